// Durations in settings: a number of seconds ("30", "0.5", as EGRESS_DRAIN_SECONDS takes),
// or a number with a unit: "1500ms", "10s", "5m", "1h", "1d". "0" means zero (settings
// say what zero means for them, e.g. "never" for an idle timeout).

const second = 1000;
const minute = 60 * second;
const hour = 60 * minute;
const day = 24 * hour;
const units: Readonly<Record<string, number>> = { ms: 1, s: second, m: minute, h: hour, d: day };

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * (units[m[2] ?? "s"] ?? second);
  return Number.isFinite(ms) && ms <= 365 * day ? Math.round(ms) : undefined;
}

export const durationHint =
  "not a duration; write seconds (30) or a number with ms, s, m, h or d (1500ms, 10s, 5m, 1h)";

/** A duration as people write it back: 3600000 → "1h", 1500 → "1500ms", 0 → "0". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  for (const [unit, size] of [
    ["d", day],
    ["h", hour],
    ["m", minute],
    ["s", second],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

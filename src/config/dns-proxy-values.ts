// Value parsers of the DNS proxy's own settings (timeouts, limits, DNS servers…). Each
// returns the typed value or `{ hint }`: "<state>; <fix>" for the setting's message. A leaf
// module: the catalogue uses these as validators, dns-proxy-settings.ts to read values.
import { parseAddress } from "./addresses.ts";
import { durationHint, parseDuration } from "./durations.ts";
import { parsePort } from "./rule-lines.ts";

export type Parsed<T> = { value: T } | { hint: string };

export function durationValue(text: string): Parsed<number> {
  const ms = parseDuration(text);
  return ms === undefined ? { hint: durationHint } : { value: ms };
}

export function durationAtLeast(text: string, minMs: number): Parsed<number> {
  const r = durationValue(text);
  if ("hint" in r || r.value >= minMs) return r;
  return { hint: `must be more than 0; write e.g. 10s` };
}

export function countValue(text: string, min: number, max: number): Parsed<number> {
  const t = text.trim();
  if (/^\d{1,9}$/.test(t) && Number(t) >= min && Number(t) <= max) return { value: Number(t) };
  return { hint: `not a whole number from ${min} to ${max}; write e.g. ${Math.max(min, 1)}` };
}

/** "::", "0.0.0.0,::1": addresses to listen on, each once. */
export function addressListValue(text: string): Parsed<string[]> {
  const parts = text.split(",").map((p) => p.trim());
  const out: string[] = [];
  for (const p of parts) {
    const a = parseAddress(p);
    if (!a) {
      return {
        hint: `"${p}" is not an IP address; give addresses separated by commas, e.g. "::" (all, IPv6 and IPv4) or "0.0.0.0,::1"`,
      };
    }
    if (!out.includes(a.address)) out.push(a.address);
  }
  return { value: out };
}

/** "10.0.0.10", "10.0.0.10:5353", "[fd00::10]:53", "fd00::10", comma-separated. */
export function nameserversValue(text: string): Parsed<string[]> {
  const out: string[] = [];
  for (const raw of text.split(",").map((p) => p.trim())) {
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw);
    const v4port = /^([\d.]+):(\d+)$/.exec(raw);
    const [host, portText] = bracketed
      ? [bracketed[1] ?? "", bracketed[2]]
      : v4port
        ? [v4port[1] ?? "", v4port[2]]
        : [raw, undefined];
    const a = parseAddress(host);
    const port = portText === undefined ? 53 : parsePort(portText);
    if (!a || port === undefined) {
      return {
        hint: `"${raw}" is not a DNS server address; give addresses with an optional port, separated by commas, e.g. "10.0.0.10,10.0.0.11:5353,[fd00::10]:53"`,
      };
    }
    out.push(a.family === 6 ? `[${a.address}]:${port}` : `${a.address}:${port}`);
  }
  return { value: out };
}

export interface IdleTimeouts {
  readonly defaultMs: number;
  readonly perPort: ReadonlyMap<number, number>;
}

/** "1h", or with per-port values: "1h,5432=8h,6379=0" (0: never). */
export function idleTimeoutsValue(text: string): Parsed<IdleTimeouts> {
  const perPort = new Map<number, number>();
  let defaultMs: number | undefined;
  for (const part of text.split(",").map((p) => p.trim())) {
    const eq = part.indexOf("=");
    const ms = parseDuration(eq < 0 ? part : part.slice(eq + 1));
    if (ms === undefined) {
      return {
        hint: `"${part}" is not a duration or <port>=<duration>; write e.g. "1h" or "1h,5432=8h,6379=0" (0: never)`,
      };
    }
    if (eq < 0) {
      if (defaultMs !== undefined) {
        return { hint: `two values without a port; give one default, e.g. "1h,5432=8h"` };
      }
      defaultMs = ms;
      continue;
    }
    const port = parsePort(part.slice(0, eq));
    if (port === undefined) {
      return { hint: `"${part.slice(0, eq)}" is not a port; ports are 1 to 65535` };
    }
    if (perPort.has(port)) return { hint: `port ${port} is given twice; keep one value` };
    perPort.set(port, ms);
  }
  return { value: { defaultMs: defaultMs ?? 3_600_000, perPort } };
}

/** DNS TTL bounds "min..max", e.g. "5s..5m". */
export function ttlBoundsValue(text: string): Parsed<{ minMs: number; maxMs: number }> {
  const m = /^(.+?)\.\.(.+)$/.exec(text.trim());
  const min = m ? parseDuration(m[1] ?? "") : undefined;
  const max = m ? parseDuration(m[2] ?? "") : undefined;
  if (min === undefined || max === undefined) {
    return { hint: `not "<min>..<max>"; write two durations, e.g. "5s..5m"` };
  }
  if (min < 1000 || max < min) {
    return { hint: `the minimum must be at least 1s and not above the maximum; e.g. "5s..5m"` };
  }
  return { value: { minMs: min, maxMs: max } };
}

/** For the catalogue: a validator from a parser. */
export function checkWith<T>(
  parse: (text: string) => Parsed<T>,
): (v: string) => string | undefined {
  return (v) => {
    const r = parse(v);
    return "hint" in r ? r.hint : undefined;
  };
}

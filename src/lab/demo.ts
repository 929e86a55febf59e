// `egress-router lab demo`: runs every scenario group against a lab and prints, as it goes,
// one table row per scenario: what the client asked, which rule applies, what the external
// server saw (the peer address is the source the router sent from) and whether the firewall,
// which admits only the reserved source, let it in. Any row not as expected fails the demo.
import type { DemoContext, DemoMode, Expectation, ScenarioGroup } from "./demo-scenario.ts";
import { DEMO_MODES } from "./demo-scenario.ts";
import type { FirewallState } from "./firewall.ts";
import type { Lab } from "./lab.ts";
import type { ProbeResult } from "./lab-probe.ts";

export interface DemoOptions {
  readonly groups: readonly ScenarioGroup[];
  readonly context: DemoContext;
  readonly write: (text: string) => void;
  /** colours and in-place progress (a terminal) */
  readonly tty: boolean;
}

export interface RowResult {
  readonly asked: string;
  readonly ok: boolean;
  /** why the scenario did not run here */
  readonly skipped?: string;
}

export interface DemoResult {
  readonly rows: readonly RowResult[];
  /** every source the firewall rejected during the demo (must be empty) */
  readonly leaked: readonly string[];
}

const WIDTH = { asked: 30, rule: 48, saw: 38 } as const;

function fit(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

function paint(tty: boolean, code: string, text: string): string {
  return tty ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** What the server saw, in words. */
export function describeSeen(r: ProbeResult): string {
  if (r.outcome === "reply" && r.view) {
    return `${r.view.peer} → ${hostPort(r.view.local, r.view.localPort)}`;
  }
  if (r.outcome === "refused") return `nothing: refused in ${r.ms} ms`;
  if (r.outcome === "timeout") return "nothing: no answer";
  return `nothing: ${r.outcome}${r.detail ? ` (${r.detail})` : ""}`;
}

/** The firewall's verdict on one scenario, from its counters since the last reset. */
export function describeFirewall(f: FirewallState): string {
  if (f.rejected > 0) return `REJECTED ${f.rejectedSources.join(", ") || "(source unknown)"}`;
  if (f.admitted > 0) return "admitted";
  return "not reached";
}

/** Is the result what the scenario expects (and did nothing leak)? */
export function meetsExpectation(
  expect: Expectation,
  r: ProbeResult,
  f: FirewallState,
  sources: readonly string[],
): boolean {
  if (f.rejected > 0) return false;
  switch (expect.outcome) {
    case "reply":
      return (
        r.outcome === "reply" &&
        r.view !== undefined &&
        sources.includes(r.view.peer) &&
        hostPort(r.view.local, r.view.localPort) === expect.at &&
        f.admitted > 0
      );
    case "refused":
      return r.outcome === "refused" && f.admitted === 0;
    case "timeout":
      return r.outcome === "timeout" && f.admitted === 0;
  }
}

function header(write: (t: string) => void): void {
  write(
    `     ${fit("client asked", WIDTH.asked)} ${fit("rule", WIDTH.rule)} ${fit("external server saw", WIDTH.saw)} firewall\n`,
  );
}

/** Runs the groups in order; never throws for a failed scenario (it becomes a ✖ row). */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { groups, context, write, tty } = options;
  const lab: Lab = context.lab;
  const sources = [lab.v4.source, lab.v6.source];
  const rows: RowResult[] = [];
  const leaked = new Set<string>();

  for (const group of groups) {
    write(`\n${paint(tty, "1", group.title)}\n`);
    for (const s of group.settings) write(`  ${paint(tty, "2", s)}\n`);
    let setupNote: string;
    try {
      setupNote = await group.setup(context);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      write(`  ${paint(tty, "31", `✖ setup failed: ${why}`)}\n`);
      for (const s of group.scenarios) rows.push({ asked: s.asked, ok: false });
      continue;
    }
    write(`  → ${setupNote}\n\n`);
    header(write);
    try {
      for (const s of group.scenarios) {
        const skip = s.skip?.();
        if (skip !== undefined) {
          rows.push({ asked: s.asked, ok: true, skipped: skip });
          write(
            `   ${paint(tty, "33", "-")} ${fit(s.asked, WIDTH.asked)} ${fit(s.rule, WIDTH.rule)} skipped: ${skip}\n`,
          );
          continue;
        }
        const lead = `     ${fit(s.asked, WIDTH.asked)} ${fit(s.rule, WIDTH.rule)} `;
        if (tty) write(`${lead}${paint(tty, "2", "…")}`);
        await lab.resetFirewall();
        let r: ProbeResult;
        try {
          r = await s.run(context);
        } catch (err) {
          r = { outcome: "error", detail: err instanceof Error ? err.message : String(err), ms: 0 };
        }
        const f = await lab.firewall();
        for (const src of f.rejectedSources) leaked.add(src);
        const ok = meetsExpectation(s.expect, r, f, sources);
        rows.push({ asked: s.asked, ok });
        const mark = ok ? paint(tty, "32", "✔") : paint(tty, "31", "✖");
        const wall = describeFirewall(f);
        const line = `   ${mark} ${fit(s.asked, WIDTH.asked)} ${fit(s.rule, WIDTH.rule)} ${fit(describeSeen(r), WIDTH.saw)} ${f.rejected > 0 ? paint(tty, "31", wall) : wall}`;
        write(`${tty ? "\r\x1b[2K" : ""}${line}\n`);
        if (!ok && r.detail)
          write(`       ${paint(tty, "31", `expected ${expected(s.expect)}; ${r.detail}`)}\n`);
        const note = s.note?.();
        if (note !== undefined) write(`       ${paint(tty, "2", note)}\n`);
      }
    } finally {
      await group.teardown?.(context).catch(() => {});
    }
  }
  return { rows, leaked: [...leaked].sort() };
}

function expected(e: Expectation): string {
  switch (e.outcome) {
    case "reply":
      return `an answer from ${e.at}`;
    case "refused":
      return "a refusal";
    case "timeout":
      return "no answer";
  }
}

/** The closing lines: the verdict, and the modes with no scenarios in this build. */
export function summarize(
  result: DemoResult,
  groups: readonly ScenarioGroup[],
  sources: readonly string[],
  tty: boolean,
): string {
  const failed = result.rows.filter((r) => !r.ok).length;
  const lines: string[] = [""];
  const skipped = result.rows.filter((r) => r.skipped !== undefined).length;
  const ran = result.rows.length - skipped;
  const skippedNote = skipped > 0 ? ` (${skipped} skipped: see above)` : "";
  if (failed === 0) {
    lines.push(paint(tty, "32", `✔ ${ran} scenarios, all as expected${skippedNote}.`));
  } else {
    lines.push(paint(tty, "31", `✖ ${failed} of ${ran} scenarios not as expected${skippedNote}.`));
  }
  lines.push(
    result.leaked.length === 0
      ? `  The firewall rejected no source: nothing reached the outside from any address but ${sources.join(" or ")}.`
      : paint(tty, "31", `  LEAK: the firewall rejected traffic from ${result.leaked.join(", ")}.`),
  );
  const covered = new Set<DemoMode>(groups.map((g) => g.mode));
  const missing = DEMO_MODES.filter((m) => !covered.has(m));
  if (missing.length > 0)
    lines.push(`  No demo scenarios in this build for: ${missing.join(", ")}.`);
  return `${lines.join("\n")}\n`;
}

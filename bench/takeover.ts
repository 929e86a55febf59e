// Takeover benchmark, in the HA lab (two router pods, keepalived with the default settings):
// how long clients wait when the holder goes away, three ways:
//   sigkill    every process of the holder pod killed (a crash; its kernel keeps its rules)
//   sigterm    the holder's router stopped as a container runtime stops it (graceful handover)
//   link-down  the holder's egress cable cut at the LAN switch
// Each sample: the client pod makes a new connection every 20 ms to the cluster-side address
// all along; the time is from the kill to the end of the first new connection that the
// external server answered, from the reserved source address, through the new holder (its
// connection tracking knows it). For sigterm it also counts connections that failed (each
// may take 10 s: a first packet dropped in the switch-over is sent again by TCP after 1 s).
// Prints min/median/max per way, and the load average. Needs root.
//
//   node bench/takeover.ts [--runs 10] [--keep-logs DIR]
import { copyFileSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { HaLab, RouterName } from "../src/lab/ha-lab.ts";
import { ROUTERS, createHaLab } from "../src/lab/ha-lab.ts";
import type { Attempt } from "../src/lab/lab-traffic.ts";
import { wallNow } from "../src/lab/lab-traffic.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "10" }, "keep-logs": { type: "string" } },
});
const runs = Number(values.runs);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

async function waitFor<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`bench: gave up waiting for ${what} after ${ms} ms`);
    await sleep(50);
  }
}

type Kind = "sigkill" | "sigterm" | "link-down";
interface Sample {
  readonly ms: number;
  /** the new holder's own actions, from keepalived's report to ready (its log) */
  readonly holderMs: number | undefined;
  readonly attempts: number;
  readonly failed: number;
  readonly slowestMs: number;
}

const loadAtStart = load();
const ha: HaLab = await createHaLab({ egressLink: "veth" });
const onSignal = () => void ha.down().finally(() => process.exit(130));
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);

const other = (r: RouterName): RouterName => (r === "a" ? "b" : "a");
const holderAndStandby = () =>
  waitFor("one holder and one standby", 60_000, async () => {
    const [a, b] = await Promise.all(ROUTERS.map((r) => ha.state(r)));
    if (a?.ready && a.source && a.vip && b?.role === "standby") return "a" as const;
    if (b?.ready && b.source && b.vip && a?.role === "standby") return "b" as const;
    return undefined;
  });
/** The `ms` of the last "role changed" to holder in a router's log. */
const lastTakeoverMs = (r: RouterName): number | undefined => {
  const lines = readFileSync(ha.logFile(r), "utf8").split("\n");
  for (const l of lines.reverse()) {
    if (l.includes('"msg":"role changed"') && l.includes('"to":"holder"')) {
      return (JSON.parse(l) as { ms?: number }).ms;
    }
  }
  return undefined;
};

async function sample(kind: Kind): Promise<Sample> {
  const old = await holderAndStandby();
  const next = other(old);
  const traffic = await ha.traffic({ everyMs: 20, timeoutMs: kind === "sigterm" ? 10_000 : 3000 });
  let first: Attempt | undefined;
  let t0 = 0;
  try {
    await waitFor("a connection before", 20_000, () =>
      Promise.resolve(traffic.attempts.some((a) => a.outcome === "reply") ? true : undefined),
    );
    await sleep(200);
    t0 = wallNow();
    if (kind === "link-down") await ha.setEgressLink(old, false);
    else await ha.killRouter(old, kind === "sigkill" ? "SIGKILL" : "SIGTERM");
    first = await waitFor("the first connection through the new holder", 30_000, async () => {
      for (const a of traffic.attempts) {
        if (a.start > t0 && a.outcome === "reply" && a.peer === ha.lab.v4.source) {
          if (await ha.carried(next, a)) return a;
        }
      }
      return undefined;
    });
    await sleep(500); // some traffic after the takeover too
  } finally {
    await traffic.stop();
  }
  const attempts = traffic.attempts.filter((a) => a.start > t0 - 1000);
  const failed = attempts.filter((a) => a.outcome !== "reply" || a.peer !== ha.lab.v4.source);
  const s: Sample = {
    ms: (first?.end ?? t0) - t0,
    holderMs: lastTakeoverMs(next),
    attempts: attempts.length,
    failed: failed.length,
    slowestMs: Math.max(
      0,
      ...attempts.filter((a) => a.outcome === "reply").map((a) => a.end - a.start),
    ),
  };
  // back to one holder and one standby for the next sample
  if (kind === "link-down") await ha.setEgressLink(old, true);
  else {
    if (kind === "sigkill") {
      // the killed pod's address expires with its lease; then the router starts again
      await waitFor("the killed holder's address to expire", 15_000, async () =>
        (await ha.state(old)).source ? undefined : true,
      );
    }
    ha.startRouter(old);
  }
  return s;
}

function stats(xs: readonly number[]): string {
  const s = [...xs].sort((x, y) => x - y);
  const med =
    s.length % 2
      ? (s[(s.length - 1) / 2] ?? 0)
      : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2;
  return `min ${Math.round(s[0] ?? 0)} ms  median ${Math.round(med)} ms  max ${Math.round(s.at(-1) ?? 0)} ms`;
}

const results: Record<Kind, Sample[]> = { sigkill: [], sigterm: [], "link-down": [] };
try {
  for (const r of ROUTERS) ha.startRouter(r);
  process.stderr.write(`load average at start: ${loadAtStart}\n`);
  for (const kind of ["sigkill", "sigterm", "link-down"] as const) {
    for (let i = 0; i < runs; i++) {
      const s = await sample(kind);
      results[kind].push(s);
      process.stderr.write(
        `${kind} ${i + 1}: ${Math.round(s.ms)} ms (new holder's actions ${s.holderMs ?? "?"} ms); ${s.failed} of ${s.attempts} connections failed; load ${load()}\n`,
      );
    }
  }
  const line = (kind: Kind, label: string) => {
    const xs = results[kind];
    const failed = xs.reduce((n, s) => n + s.failed, 0);
    const attempts = xs.reduce((n, s) => n + s.attempts, 0);
    const holder = xs.map((s) => s.holderMs).filter((m) => m !== undefined);
    return [
      `${label} (n=${xs.length}): ${stats(xs.map((s) => s.ms))}`,
      `    new holder's own actions (keepalived's report to ready): ${stats(holder)}`,
      `    connections failed: ${failed} of ${attempts}; slowest that succeeded: ${Math.round(Math.max(...xs.map((s) => s.slowestMs)))} ms`,
    ].join("\n");
  };
  process.stdout.write(
    [
      "takeover: from the kill to the first new connection through the new holder (VRRP advertisements every 0.1 s)",
      line("sigkill", "SIGKILL of the holder pod  "),
      line("sigterm", "SIGTERM (graceful handover)"),
      line("link-down", "egress link cut            "),
      `load average: ${loadAtStart} at start, ${load()} at the end (${(await import("node:os")).cpus().length} CPUs)`,
      "",
    ].join("\n"),
  );
} catch (err) {
  // the routers' own account of what happened, before the lab (and its logs) go away
  for (const r of ROUTERS) {
    let text = "";
    try {
      text = readFileSync(ha.logFile(r), "utf8");
    } catch {
      text = "(no log)";
    }
    process.stderr.write(`--- router ${r} log (last 100 lines) ---\n`);
    process.stderr.write(`${text.split("\n").slice(-100).join("\n")}\n`);
  }
  throw err;
} finally {
  // --keep-logs DIR: the routers' logs survive the lab, for a look at where the time went
  const keep = values["keep-logs"];
  if (keep !== undefined) {
    for (const r of ROUTERS) {
      try {
        copyFileSync(ha.logFile(r), `${keep}/router-${r}.log`);
      } catch {
        // no log: the router never started
      }
    }
  }
  await ha.down();
}

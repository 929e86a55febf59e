// Takeover benchmark (issue 8): N takeovers after SIGKILL of every process of the holder pod,
// and N graceful handovers (SIGTERM), in the HA lab. For each: from the kill to the first new
// connection from the client through the cluster address that reaches the external server
// from the reserved source, with the new holder ready. Prints min/median/max. Needs root.
//
//   node bench/takeover.ts [--runs 10] [--keep-logs DIR]
import { copyFileSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { RouterName } from "../src/lab/ha-lab.ts";
import { CLUSTER_VIP, HA_PORT, createHaLab } from "../src/lab/ha-lab.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "10" }, "keep-logs": { type: "string" } },
});
const runs = Number(values.runs);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ha = await createHaLab();
const onSignal = () => void ha.down().finally(() => process.exit(130));
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);
const deadline = (what: string, ms: number) => {
  const end = performance.now() + ms;
  return () => {
    if (performance.now() > end)
      throw new Error(`bench: gave up waiting for ${what} after ${ms} ms`);
  };
};
try {
  ha.startRouter("a");
  ha.startRouter("b");
  const ready = async (r: RouterName) =>
    (
      await ha.exec(
        r,
        [
          "curl",
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "-m",
          "1",
          "http://127.0.0.1:9090/readyz",
        ],
        { okCodes: [0, 7, 28] },
      )
    ).stdout === "200";
  const role = async (r: RouterName) => {
    const res = await ha.exec(r, ["curl", "-s", "-m", "1", "http://127.0.0.1:9090/status.json"], {
      okCodes: [0, 7, 28],
    });
    return /"role":\s*"(\w+)"/.exec(res.stdout)?.[1];
  };
  const holder = async (): Promise<RouterName> => {
    const check = deadline("one holder and one standby", 30_000);
    for (;;) {
      check();
      const a = await ready("a");
      const b = await ready("b");
      // the other one must be up as a standby, or the sample measures a router's start-up
      if (a !== b && (await role(a ? "b" : "a")) === "standby") return a ? "a" : "b";
      await sleep(50);
    }
  };
  const results: Record<"sigkill" | "sigterm", number[]> = { sigkill: [], sigterm: [] };
  let lost = 0;
  for (const kind of ["sigkill", "sigterm"] as const) {
    for (let i = 0; i < runs; i++) {
      await sleep(1500);
      const old = await holder();
      const next: RouterName = old === "a" ? "b" : "a";
      const t0 = performance.now();
      await ha.killRouter(old, kind === "sigkill" ? "SIGKILL" : "SIGTERM");
      const check = deadline("the new holder", 15_000);
      for (;;) {
        check();
        if (await ready(next)) {
          const r = await ha.lab.probe("client", {
            protocol: "tcp",
            address: CLUSTER_VIP,
            port: HA_PORT,
            timeoutMs: 3000,
          });
          if (r.outcome === "reply" && r.view?.peer === ha.lab.v4.source) break;
          if (kind === "sigterm") lost += 1;
        }
      }
      results[kind].push(performance.now() - t0);
      process.stderr.write(`${kind} ${i + 1}: ${Math.round(performance.now() - t0)} ms\n`);
      await sleep(kind === "sigkill" ? 3500 : 500); // the old pod's address lease runs out
      ha.startRouter(old);
    }
  }
  const fmt = (xs: number[]) => {
    const s = [...xs].sort((x, y) => x - y);
    const med =
      s.length % 2
        ? (s[(s.length - 1) / 2] ?? 0)
        : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2;
    return `min ${Math.round(s[0] ?? 0)} ms  median ${Math.round(med)} ms  max ${Math.round(s.at(-1) ?? 0)} ms  (n=${s.length})`;
  };
  process.stdout.write(`takeover after SIGKILL of the holder pod: ${fmt(results.sigkill)}\n`);
  process.stdout.write(
    `graceful handover (SIGTERM):             ${fmt(results.sigterm)}; failed connections: ${lost}\n`,
  );
  process.stdout.write(
    "(each time includes starting one probe process in the client pod, about 100-300 ms on this machine)\n",
  );
} catch (err) {
  // the routers' own account of what happened, before the lab (and its logs) go away
  for (const r of ["a", "b"] as const) {
    let text = "";
    try {
      text = readFileSync(ha.logFile(r), "utf8");
    } catch {
      text = "(no log)";
    }
    process.stderr.write(`--- router ${r} log (last 150 lines) ---\n`);
    process.stderr.write(`${text.split("\n").slice(-150).join("\n")}\n`);
  }
  throw err;
} finally {
  // --keep-logs DIR: the routers' logs survive the lab, for a look at where the time went
  const keep = values["keep-logs"];
  if (keep !== undefined) {
    for (const r of ["a", "b"] as const) {
      try {
        copyFileSync(ha.logFile(r), `${keep}/router-${r}.log`);
      } catch {
        // no log: the router never started
      }
    }
  }
  await ha.down();
}

// Steady traffic from a lab namespace: a new TCP connection every few milliseconds, each
// reported as one JSON line (an Attempt) when it ends — what the external server saw, when it
// started and when it ended, on the wall clock, so another process can line the attempts up
// with what it did (kill a router) at a known time. One long-lived process, so no attempt pays
// for starting a program. Used by the HA test, the takeover benchmark and the demo.
//
// Usage: lab-traffic.ts --address <ip> --port <n> [--every-ms 20] [--timeout-ms 3000]
// Runs until its standard input closes or it gets SIGTERM; attempts under way finish first.
import { parseArgs } from "node:util";
import type { ProbeOutcome } from "./lab-probe.ts";
import { probe } from "./lab-probe.ts";

export interface Attempt {
  /** sequence number, from 1 */
  readonly n: number;
  /** wall-clock start and end, epoch milliseconds */
  readonly start: number;
  readonly end: number;
  readonly outcome: ProbeOutcome;
  /** the source address the external server saw */
  readonly peer?: string;
  /** the source port it saw (after the router's SNAT): finds the connection in conntrack */
  readonly peerPort?: number;
  /** the address and port the external server answered on */
  readonly local?: string;
  readonly localPort?: number;
  readonly detail?: string;
}

/** Wall-clock now in milliseconds with sub-millisecond precision (comparable across processes). */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      address: { type: "string" },
      port: { type: "string" },
      "every-ms": { type: "string", default: "20" },
      "timeout-ms": { type: "string", default: "3000" },
    },
  });
  if (!values.address || !values.port)
    throw new Error("usage: lab-traffic.ts --address <ip> --port <n> [--every-ms n]");
  const address = values.address;
  const port = Number(values.port);
  const everyMs = Number(values["every-ms"]);
  const timeoutMs = Number(values["timeout-ms"]);
  let stopping = false;
  const stop = () => (stopping = true);
  process.once("SIGTERM", stop);
  process.stdin.on("end", stop).on("error", stop).resume();
  const pending = new Set<Promise<void>>();
  let n = 0;
  while (!stopping) {
    n += 1;
    const seq = n;
    const start = wallNow();
    const p = probe({ protocol: "tcp", address, port, timeoutMs }).then((r) => {
      const a: Attempt = {
        n: seq,
        start,
        end: wallNow(),
        outcome: r.outcome,
        ...(r.view
          ? {
              peer: r.view.peer,
              peerPort: r.view.peerPort,
              local: r.view.local,
              localPort: r.view.localPort,
            }
          : {}),
        ...(r.detail !== undefined ? { detail: r.detail } : {}),
      };
      process.stdout.write(`${JSON.stringify(a)}\n`);
    });
    pending.add(p);
    void p.finally(() => pending.delete(p));
    await new Promise((r) => setTimeout(r, everyMs));
  }
  await Promise.all(pending);
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`lab-traffic: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  });
}

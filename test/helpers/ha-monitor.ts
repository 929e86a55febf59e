// Watches the two router pods of an HA lab for two holders at once: one long-lived
// `ip -batch` per pod (no process per sample), asked in turn every few milliseconds whether
// the reserved source address (on an egress interface with a carrier) and the cluster-side
// address are on its interfaces. A sample
// round asks A, then B, then A again; two holders are reported only when A had the address
// before and after B had it, so a handover that happens between two questions is not taken
// for an overlap.
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { HaLab, RouterName } from "../../src/lab/ha-lab.ts";
import { CLUSTER_VIP } from "../../src/lab/ha-lab.ts";

export interface Overlap {
  readonly at: string;
  readonly address: string;
}

export interface HolderMonitor {
  /** A router that is not alive (SIGKILLed, its kernel keeps the address until the lease ends). */
  setDead(router: RouterName, dead: boolean): void;
  /** Two holders are expected for now (split-brain). */
  pause(paused: boolean): void;
  /** Every overlap seen since the last call. */
  take(): Overlap[];
  /** Rounds sampled so far (the monitor really looked). */
  readonly rounds: number;
  stop(): Promise<void>;
}

class BatchIp {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting: ((line: string) => void)[] = [];
  readonly #exited: Promise<void>;
  #gone = false;
  constructor(namespace: string) {
    this.#child = spawn("ip", ["-n", namespace, "-j", "-batch", "-"], { stdio: "pipe" });
    createInterface({ input: this.#child.stdout }).on("line", (l) => this.#waiting.shift()?.(l));
    this.#child.on("error", () => undefined);
    this.#child.stdin.on("error", () => undefined);
    this.#exited = new Promise((resolve) =>
      this.#child.once("close", () => {
        this.#gone = true;
        for (const w of this.#waiting.splice(0)) w("");
        resolve();
      }),
    );
  }
  /** One answer of `address show`; "" once the process is gone. */
  ask(): Promise<string> {
    if (this.#gone) return Promise.resolve("");
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#child.stdin.write("address show\n");
    });
  }
  async close(): Promise<void> {
    this.#child.stdin.end();
    this.#child.kill("SIGTERM");
    await this.#exited;
  }
}

export function monitorHolders(ha: HaLab, everyMs = 20): HolderMonitor {
  const source = ha.lab.v4.source;
  const ip = { a: new BatchIp(ha.namespaces.a), b: new BatchIp(ha.namespaces.b) };
  const dead = { a: false, b: false };
  let paused = false;
  let stopped = false;
  let rounds = 0;
  const overlaps: Overlap[] = [];
  const egress = ha.lab.topology.egressInterface;
  /**
   * Does the pod hold the address? On its egress interface only while that has a carrier: a
   * pod whose egress link is cut still has the address for a moment, but nobody on the LAN
   * can reach it there.
   */
  const holds = (json: string, address: string) => {
    let links: { ifname?: string; flags?: string[]; addr_info?: { local?: string }[] }[];
    try {
      links = JSON.parse(json || "[]") as typeof links;
    } catch {
      return false;
    }
    return links.some(
      (l) =>
        (l.ifname !== egress || (l.flags ?? []).includes("LOWER_UP")) &&
        (l.addr_info ?? []).some((a) => a.local === address),
    );
  };
  const loop = (async () => {
    while (!stopped) {
      const a1 = await ip.a.ask();
      const b = await ip.b.ask();
      const a2 = await ip.a.ask();
      rounds += 1;
      if (!paused && !dead.a && !dead.b) {
        for (const address of [source, CLUSTER_VIP]) {
          if (holds(a1, address) && holds(b, address) && holds(a2, address))
            overlaps.push({ at: new Date().toISOString(), address });
        }
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    setDead: (router, d) => void (dead[router] = d),
    pause: (p) => void (paused = p),
    take: () => overlaps.splice(0),
    get rounds() {
      return rounds;
    },
    async stop() {
      stopped = true;
      await loop;
      await Promise.all([ip.a.close(), ip.b.close()]);
    },
  };
}

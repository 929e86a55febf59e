// Split-brain: two replicas that cannot hear each other's VRRP advertisements (a switch that
// filters multicast, a partition between the replicas that still lets both reach the gateway)
// each elect themselves, and both hold the source address. VRRP cannot settle that: its own
// messages are what does not arrive. This guard settles it with what does arrive, ARP (IPv4)
// or neighbour discovery (IPv6):
//
// - The holder asks the LAN who has the source address, once per interval: IPv4, an ARP probe
//   from 0.0.0.0 (`arping -D`), which another holder's kernel answers; IPv6, a neighbour
//   solicitation (`ndisc6`, see ndpProbe), whose answers from this replica's own interface
//   are left out.
// - An answer counts only once it has gone on for longer than the address lease (plus a
//   margin): a holder that was killed keeps answering until its lease runs out, and a
//   takeover from it is no split-brain.
// - Who gives the address up: the replica that took it while another already held it (every
//   probe since its takeover was answered). The one that held it first keeps it, as VRRP
//   without preemption would. Whenever another host stops answering, the holder announces
//   the address again, so the LAN's neighbour caches point back at it. Two that took it at the same moment both give it
//   up and come back after a random pause: the first one back keeps it.
// - A replica that stood down stays out (in fault) while another host answers for the
//   address. It comes back when nobody answers any more (the holder died), or when it hears
//   its virtual router's advertisements again (the partition healed): an nft counter on the
//   egress interface counts them (table inet egress_router_ha).
//
// Duplicate address detection plays no part. keepalived adds an IPv6 address without it
// (nodad), and so do the holder's own actions: with DAD, a replica taking over from a killed
// holder whose address has not yet run out would get a "dadfailed" address, unusable for
// good, where the lease is meant to let it through seconds later. So the kernel never marks
// a held address dadfailed, and the solicitations here are what finds a second holder.
import { isIPv6 } from "node:net";
import type { CommandRunner } from "../redirect/command-runner.ts";
import { arpProbe, linkAddress, ndpProbe } from "./gateway-check.ts";
import type { HaLog } from "./ha-log.ts";

export const VRRP_COUNTER_TABLE = "egress_router_ha";

export interface SplitBrainOptions {
  readonly runner: CommandRunner;
  readonly egressInterface: string;
  /** the reserved source address (IPv4: ARP probes; IPv6: neighbour solicitations) */
  readonly address: string;
  readonly vrid: number;
  readonly intervalMs: number;
  /** how long answers must go on before they count: the address lease plus a margin */
  readonly confirmMs: number;
  /** this replica holds the address now (ready) */
  readonly isHolder: () => boolean;
  /** marks this replica unfit to hold (true), or fit again (false) */
  readonly standDown: (on: boolean) => Promise<void>;
  /** announces the held addresses again (gratuitous ARP) */
  readonly announce: () => void;
  readonly log: HaLog;
  /** a second holder found (true) or gone (false): metrics */
  readonly onDetected?: (detected: boolean) => void;
  /** nobody answered this many probes in a row: a replica that stood down comes back; default 2 */
  readonly quietProbes?: number;
  /** the longest random pause before such a comeback; default 2000 ms */
  readonly backoffMs?: number;
  readonly random?: () => number;
}

export type SplitBrainState =
  /** nobody else answers for the address (or this replica neither holds nor stood down) */
  | "clear"
  /** another host answers, not yet for long enough to count */
  | "seen"
  /** a second holder, and this replica keeps the address (it held it first) */
  | "keeping"
  /** a second holder, and this replica stood down: in fault while the other answers */
  | "standing-down";

export interface SplitBrainStatus {
  readonly state: SplitBrainState;
  /** the other holder's link-layer address */
  readonly peer: string | undefined;
  /** when it was first seen answering */
  readonly since: string | undefined;
  /** second holders found since start */
  readonly detections: number;
  /** false: the VRRP counter could not be set up; a replica that stood down waits for silence */
  readonly vrrpCounter: boolean;
}

export interface SplitBrainGuard {
  /** This replica became holder: the next probe runs now and decides who came first. */
  tookOver(): void;
  status(): SplitBrainStatus;
  stop(): Promise<void>;
}

/** nft text of the counter of advertisements for this virtual router arriving on the egress interface. */
export function renderVrrpCounter(egressInterface: string, vrid: number): string {
  return [
    `table inet ${VRRP_COUNTER_TABLE} {`,
    "\tchain vrrp {",
    "\t\ttype filter hook input priority filter - 5; policy accept;",
    "\t}",
    "}",
    `flush table inet ${VRRP_COUNTER_TABLE}`,
    // VRRP is IP protocol 112; its second byte is the virtual router id. Not from a local
    // address: this replica's own advertisements come back to it (multicast loopback).
    `add rule inet ${VRRP_COUNTER_TABLE} vrrp iifname ${JSON.stringify(egressInterface)} meta l4proto 112 @th,8,8 ${vrid} fib saddr . iif type != local counter`,
    "",
  ].join("\n");
}

/** Packets counted by the counter (from `nft -j list chain …`). */
export function parseVrrpCounter(json: string): number {
  const doc = JSON.parse(json) as {
    nftables?: { rule?: { expr?: { counter?: { packets: number } }[] } }[];
  };
  for (const item of doc.nftables ?? []) {
    const c = item.rule?.expr?.find((e) => e.counter)?.counter;
    if (c) return c.packets;
  }
  return 0;
}

export async function startSplitBrainGuard(o: SplitBrainOptions): Promise<SplitBrainGuard> {
  const quietProbes = o.quietProbes ?? 2;
  const backoffMs = o.backoffMs ?? 2000;
  const random = o.random ?? Math.random;
  let state: SplitBrainState = "clear";
  let peer: string | undefined;
  let seenSince: number | undefined;
  let seenCount = 0;
  /** undefined until the first probe after a takeover; true while every probe since saw another */
  let contested: boolean | undefined;
  let detections = 0;
  let quiet = 0;
  let vrrpBaseline = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  let vrrpCounter = true;
  try {
    await o.runner.run(["nft", "-f", "-"], {
      input: renderVrrpCounter(o.egressInterface, o.vrid),
    });
  } catch (err) {
    vrrpCounter = false;
    o.log("warn", "split-brain check unavailable", {
      error: err instanceof Error ? err.message : String(err),
    });
  }
  // IPv6: our own interface's answers are left out, so its link-layer address is needed
  // (read once; a failure is retried at the next probe)
  let self: string | undefined;
  const probe = async (): Promise<{ answered: boolean; peer: string | undefined }> => {
    if (!isIPv6(o.address)) return arpProbe(o.runner, o.egressInterface, o.address, 1);
    self ??= await linkAddress(o.runner, o.egressInterface);
    return ndpProbe(o.runner, o.egressInterface, o.address, 1, self);
  };
  const readVrrp = async (): Promise<number | undefined> => {
    if (!vrrpCounter) return undefined;
    try {
      const r = await o.runner.run([
        "nft",
        "-j",
        "list",
        "chain",
        "inet",
        VRRP_COUNTER_TABLE,
        "vrrp",
      ]);
      return parseVrrpCounter(r.stdout);
    } catch {
      return undefined;
    }
  };

  const forget = () => {
    if (state === "keeping" || state === "standing-down") o.onDetected?.(false);
    state = "clear";
    peer = undefined;
    seenSince = undefined;
    seenCount = 0;
  };

  const asHolder = async (answered: boolean, who: string | undefined, now: number) => {
    if (!answered) {
      contested = false;
      if (state === "seen" || state === "keeping") {
        // whoever answered (a second holder that stood down, a killed holder whose lease ran
        // out) may still be in the LAN's neighbour caches: point them back here
        o.log("info", "second holder gone", {
          peer,
          since: seenSince === undefined ? undefined : new Date(seenSince).toISOString(),
        });
        o.announce();
      }
      forget();
      return;
    }
    if (contested === undefined) contested = true;
    seenSince ??= now;
    seenCount += 1;
    peer = who ?? peer;
    if (state === "clear") state = "seen";
    if (state !== "seen" || now - seenSince < o.confirmMs || seenCount < 3) return;
    detections += 1;
    o.onDetected?.(true);
    const action = contested ? "standing-down" : "keeping";
    o.log("error", "second holder of the source address", {
      peer,
      since: new Date(seenSince).toISOString(),
      action,
      address: o.address,
    });
    state = action;
    if (action === "standing-down") {
      quiet = 0;
      await o.standDown(true);
      vrrpBaseline = (await readVrrp()) ?? 0;
    }
  };

  const comeBack = async () => {
    forget();
    await o.standDown(false);
  };

  const asStoodDown = async (answered: boolean) => {
    const heard = await readVrrp();
    if (heard !== undefined && heard > vrrpBaseline) {
      o.log("info", "VRRP heard again", { peer });
      await comeBack();
      return;
    }
    quiet = answered ? 0 : quiet + 1;
    if (quiet < quietProbes) return;
    // nobody holds the address now; two that stood down together must not return together
    await new Promise((r) => setTimeout(r, random() * backoffMs));
    if (!stopped && state === "standing-down") await comeBack();
  };

  const tick = async () => {
    timer = undefined;
    const holding = o.isHolder();
    if (!holding && state !== "standing-down") {
      if (state !== "clear") forget();
      contested = undefined;
      return;
    }
    let answer: { answered: boolean; peer: string | undefined };
    try {
      answer = await probe();
    } catch {
      return; // no evidence either way; the next probe decides
    }
    if (stopped) return;
    // the role may have changed while the probe ran: judge by the role now
    if (o.isHolder()) await asHolder(answer.answered, answer.peer, Date.now());
    else if (state === "standing-down") await asStoodDown(answer.answered);
  };

  const schedule = (delayMs: number) => {
    if (stopped || running || timer) return;
    timer = setTimeout(() => {
      running = tick()
        .catch((err: unknown) =>
          o.log("error", "cannot change the fault state", {
            error: err instanceof Error ? err.message : String(err),
          }),
        )
        .finally(() => {
          running = undefined;
          const now = again;
          again = false;
          schedule(now ? 0 : o.intervalMs);
        });
    }, delayMs);
  };
  schedule(o.intervalMs);

  return {
    tookOver() {
      contested = undefined;
      if (state !== "clear") forget();
      if (running) {
        again = true;
        return;
      }
      if (timer) clearTimeout(timer);
      timer = undefined;
      schedule(0);
    },
    status: () => ({
      state,
      peer,
      since: seenSince === undefined ? undefined : new Date(seenSince).toISOString(),
      detections,
      vrrpCounter,
    }),
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      if (vrrpCounter) {
        await o.runner
          .run(["nft", "-f", "-"], {
            input: `table inet ${VRRP_COUNTER_TABLE}\ndelete table inet ${VRRP_COUNTER_TABLE}\n`,
          })
          .catch(() => undefined);
      }
    },
  };
}

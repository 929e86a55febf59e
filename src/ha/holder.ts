// What a replica does when its role changes. Takeover: the egress addresses are there (the
// engine added and announced them, or we add them), they get a kernel lease, the routes via
// the gateway and the prepared NAT rules go in, then the cluster-side address (if any) is
// added and announced, then readiness turns true. Letting go: readiness turns false at once
// (synchronously, before anything else), then the standby rules replace NAT, then the
// cluster-side address goes, then the egress addresses — unless the engine manages them.
//
// Why that order: traffic is attracted by the cluster-side address (or by readiness, through
// a Service). A connection that reaches a replica which no longer translates must not be
// refused (a TCP reset is a lost connection) nor translated to an address that has moved on
// (its answer reaches the new holder, which resets it): the standby rules drop it without an
// answer, and the client's TCP sends it again a second later, by then to the new holder.
//
// Why the engine's addresses are left to the engine: our view of its state lags behind it
// (events are read from a FIFO and acted on in order). Removing "its" addresses on a stale
// standby event would pull them from under an engine that has meanwhile become the holder.
//
// The lease: the holder's addresses are given a kernel lifetime (valid_lft) that this process
// renews. A holder killed outright (SIGKILL of every process, a hung node) stops answering
// for the address when the lease runs out, even if nothing is left to remove it.
import { isIPv6 } from "node:net";
import type { SourceAddress } from "../config/types.ts";
import type { CommandRunner } from "../redirect/command-runner.ts";
import type { Election, Role, RoleChange } from "./election.ts";
import type { HaLog } from "./ha-log.ts";

/** The kernel state that comes and goes with the role, besides the addresses. */
export interface HolderKernel {
  /**
   * The routes via the gateway. The kernel deletes them when the egress interface's last
   * IPv4 address goes, so they go back in at every takeover.
   */
  restoreRoutes(): Promise<void>;
  /** The prepared NAT rules, in one atomic step (replacing the standby rules). */
  installNat(): Promise<void>;
  /** The standby rules, in one atomic step: nothing translated, new connections dropped. */
  standBy(): Promise<void>;
}

export interface HeldAddress {
  readonly address: SourceAddress;
  readonly dev: string;
  /**
   * egress: the reserved source (the engine moves it when it manages addresses). cluster: the
   * address clients use, always ours: added after NAT, removed before it.
   */
  readonly side: "egress" | "cluster";
}

export interface Transition {
  readonly from: Role;
  readonly to: Role;
  readonly reason: string;
  /** ms from the engine's report to the end of our actions */
  readonly ms: number;
  readonly ok: boolean;
  readonly error?: string;
}

export interface HolderOptions {
  readonly runner: CommandRunner;
  readonly election: Election;
  readonly addresses: readonly HeldAddress[];
  readonly kernel: HolderKernel;
  readonly leaseSeconds: number;
  /**
   * The egress gateway. An IPv6 egress address is announced to it by a neighbour
   * solicitation from that address (see #announce).
   */
  readonly gateway?: string;
  readonly log: HaLog;
  readonly onTransition?: (t: Transition) => void;
  /** how long a "takeover-failed"/"address-lost" fault keeps this replica out; default 5 s */
  readonly faultHoldMs?: number;
  /** how long a failed lease renewal waits for the engine's own report before it counts; default 500 ms */
  readonly lostGraceMs?: number;
}

function cidr(a: SourceAddress): string {
  return `${a.address}/${a.prefixLength}`;
}

export class Holder {
  readonly #o: HolderOptions;
  #role: Role = "starting";
  #reason = "starting";
  #ready = false;
  #since = Date.now();
  #latest: RoleChange | undefined;
  #chain: Promise<void> = Promise.resolve();
  #leaseTimer: NodeJS.Timeout | undefined;
  #faultTimers = new Set<NodeJS.Timeout>();
  #transitions = 0;
  #last: Transition | undefined;
  #stopping = false;

  constructor(options: HolderOptions) {
    this.#o = options;
  }

  get role(): Role {
    return this.#role;
  }

  /** True only while this replica holds the address with NAT installed. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Why this replica is not ready (empty when ready). */
  notReadyReasons(): string[] {
    if (this.#ready) return [];
    if (this.#role === "holder") return ["taking over the source address"];
    return [`not the holder of the source address (${this.#role}: ${this.#reason})`];
  }

  status(): Record<string, unknown> {
    return {
      role: this.#role,
      reason: this.#reason,
      ready: this.#ready,
      since: new Date(this.#since).toISOString(),
      transitions: this.#transitions,
      lastTransition: this.#last,
      addresses: this.#o.addresses.map((a) => `${cidr(a.address)} dev ${a.dev}`),
    };
  }

  /** The engine's callback. Readiness drops synchronously; the actions run in order. */
  onRole(change: RoleChange): void {
    this.#latest = change;
    if (change.role !== "holder") {
      this.#ready = false;
      this.#stopLease();
    }
    this.#chain = this.#chain.then(() => this.#act(change));
  }

  /** Waits for every queued action (tests, shutdown). */
  settled(): Promise<void> {
    return this.#chain;
  }

  /** Re-installs NAT after a reload, when holding. */
  async reinstallNat(): Promise<void> {
    const run = async () => {
      if (this.#role === "holder" && !this.#stopping) await this.#o.kernel.installNat();
    };
    const next = this.#chain.then(run);
    this.#chain = next.catch(() => undefined);
    await next;
  }

  /**
   * Shutdown, first step, before the engine is stopped: readiness false, the standby rules in
   * and the cluster-side address out, so that nothing is translated any more when the peer
   * takes the source address (a connection translated here then would be answered there, and
   * reset). From now on, a holder report is not acted on.
   */
  async beginHandover(): Promise<void> {
    this.#stopping = true;
    this.#ready = false;
    this.#stopLease();
    // a takeover under way finishes first, or it would put NAT back after the standby rules
    await this.#chain.catch(() => undefined);
    await this.#o.kernel.standBy();
    await this.#removeAddresses("cluster");
  }

  /**
   * Announces every address this replica holds again (gratuitous ARP; IPv6: the egress
   * address to the gateway, see #announce). After a second holder gave the address up, the
   * LAN's neighbour caches may still point at it.
   */
  announce(): void {
    if (!this.#ready) return;
    for (const h of this.#o.addresses) this.#announce(h);
  }

  /** Removes everything a holder has (start-up clean-up after a crash, and shutdown). */
  async release(): Promise<void> {
    this.#ready = false;
    this.#stopLease();
    for (const t of this.#faultTimers) clearTimeout(t);
    this.#faultTimers.clear();
    await this.#chain;
    await this.#letGo(true);
  }

  async #act(change: RoleChange): Promise<void> {
    if (change !== this.#latest) return; // a newer change supersedes this one
    const from = this.#role;
    this.#role = change.role;
    this.#reason = change.reason;
    this.#since = Date.now();
    let error: string | undefined;
    try {
      if (change.role === "holder") await this.#takeOver(change);
      else await this.#letGo(false);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const t: Transition = {
      from,
      to: change.role,
      reason: change.reason,
      ms: Math.round(performance.now() - change.at),
      ok: error === undefined,
      ...(error !== undefined ? { error } : {}),
    };
    this.#transitions += 1;
    this.#last = t;
    this.#o.onTransition?.(t);
    if (error !== undefined) {
      this.#o.log("error", "role change failed", { ...t });
      // a failed takeover that a newer report has already superseded needs no step-down
      if (change.role === "holder" && change === this.#latest)
        await this.#giveUp("takeover-failed");
    } else {
      this.#o.log(change.role === "holder" ? "info" : "warn", "role changed", { ...t });
    }
  }

  async #takeOver(change: RoleChange): Promise<void> {
    const { runner, election } = this.#o;
    if (this.#stopping) return;
    const egress = this.#o.addresses.filter((h) => h.side === "egress");
    const cluster = this.#o.addresses.filter((h) => h.side === "cluster");
    if (!election.managesAddresses) {
      for (const h of egress) {
        await runner.run(["ip", "address", "replace", cidr(h.address), "dev", h.dev, "nodad"]);
      }
    }
    // At once, each its own process: clients wait for the slowest, not for the sum. "change"
    // never creates an address: the lease fails when the engine's address is not there
    // (then NAT went in for nothing, and the next action takes it out again).
    const [lease, ...kernel] = await Promise.allSettled([
      this.#renewLease(egress),
      this.#o.kernel.restoreRoutes(),
      this.#o.kernel.installNat(),
    ]);
    if (lease?.status === "rejected") {
      // the engine has already moved on (its next report is on the way): nothing to undo
      if (change !== this.#latest) return;
      const err: unknown = lease.reason;
      throw new Error(
        `the election engine reported this replica as holder, but ${egress.map((h) => `${cidr(h.address)} on ${h.dev}`).join(", ")} cannot be leased: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    for (const k of kernel) if (k.status === "rejected") throw k.reason;
    if (change !== this.#latest || this.#stopping) return; // lost it meanwhile: the next action undoes
    const lft = this.#lifetime();
    for (const h of cluster) {
      await runner.run([
        "ip",
        "address",
        "replace",
        cidr(h.address),
        "dev",
        h.dev,
        "nodad",
        "valid_lft",
        lft,
        "preferred_lft",
        lft,
      ]);
      this.#announce(h);
    }
    if (change !== this.#latest || this.#stopping) return;
    this.#ready = true;
    this.#startLease();
  }

  /**
   * Tells the neighbours the address moved: gratuitous ARP, twice, a second apart (a
   * neighbour ignores an update within a second of the last one; IPv6: the kernel sends an
   * unsolicited neighbour advertisement itself when an address is added and ndisc_notify is
   * on, which prepare sets; an IPv6 egress address held already is announced to the gateway
   * as below). Not awaited: readiness does not wait for it.
   */
  #announce(h: HeldAddress): void {
    let argv: string[];
    let okCodes = [0, 1];
    if (h.address.family === 4) {
      argv = ["arping", "-q", "-U", "-c", "2", "-I", h.dev, h.address.address];
    } else if (h.side === "egress" && this.#o.gateway && isIPv6(this.#o.gateway)) {
      // No tool here sends an unsolicited neighbour advertisement (the kernel sends one
      // only when an address is added). A neighbour solicitation of the gateway from the held
      // address does as well for the neighbour that matters: it carries our link-layer
      // address, and the gateway's kernel updates its entry for the address with it (RFC 4861
      // 7.2.3). ndisc6 exits 2 when the gateway does not answer; the update is made anyway.
      argv = ["ndisc6", "-q", "-n", "-r", "1", "-w", "1000", "-s", h.address.address];
      argv.push(this.#o.gateway, h.dev);
      okCodes = [0, 2];
    } else {
      return; // an IPv6 cluster-side address: the kernel announced it when it was added
    }
    this.#o.runner.run(argv, { okCodes }).catch((err: unknown) =>
      this.#o.log("warn", "cannot announce an address", {
        address: h.address.address,
        error: err instanceof Error ? err.message : String(err),
      }),
    );
  }

  /** all: also the egress addresses the engine manages (start-up clean-up, shutdown) */
  async #letGo(all: boolean): Promise<void> {
    const errors: string[] = [];
    const note = (err: unknown) => errors.push(err instanceof Error ? err.message : String(err));
    await this.#o.kernel.standBy().catch(note);
    await this.#removeAddresses("cluster").catch(note);
    if (all || !this.#o.election.managesAddresses) {
      await this.#removeAddresses("egress").catch(note);
    }
    if (errors.length > 0) throw new Error(errors.join("; "));
  }

  async #removeAddresses(side: HeldAddress["side"]): Promise<void> {
    const errors: string[] = [];
    for (const h of this.#o.addresses.filter((a) => a.side === side)) {
      // "Cannot assign requested address": already gone (the engine removed it)
      await this.#o.runner
        .run(["ip", "address", "del", cidr(h.address), "dev", h.dev], { okCodes: [0, 2] })
        .catch((err: unknown) => errors.push(err instanceof Error ? err.message : String(err)));
    }
    if (errors.length > 0) throw new Error(errors.join("; "));
  }

  #lifetime(): string {
    return String(Math.ceil(this.#o.leaseSeconds));
  }

  async #renewLease(addresses: readonly HeldAddress[] = this.#o.addresses): Promise<void> {
    const lft = this.#lifetime();
    for (const h of addresses) {
      // "change" never creates: if the address is gone, renewing fails instead of re-adding it
      await this.#o.runner.run([
        "ip",
        "address",
        "change",
        cidr(h.address),
        "dev",
        h.dev,
        "valid_lft",
        lft,
        "preferred_lft",
        lft,
      ]);
    }
  }

  #startLease(): void {
    this.#stopLease();
    const every = Math.max(200, (this.#o.leaseSeconds * 1000) / 3);
    const tick = () => {
      this.#leaseTimer = undefined;
      if (!this.#ready) return;
      this.#renewLease().then(
        () => {
          if (this.#ready) this.#leaseTimer = setTimeout(tick, every);
        },
        (err: unknown) => {
          if (!this.#ready) return;
          const holding = this.#latest;
          // The engine may have just given the role up (its report is on the way) and taken
          // the address with it: wait for that report before calling the address lost.
          this.#leaseTimer = setTimeout(() => {
            this.#leaseTimer = undefined;
            if (!this.#ready || this.#latest !== holding) return;
            this.#renewLease().then(
              () => {
                if (this.#ready) this.#leaseTimer = setTimeout(tick, every);
              },
              () => {
                if (!this.#ready || this.#latest !== holding) return;
                this.#o.log("error", "source address lost while holding", {
                  error: err instanceof Error ? err.message : String(err),
                });
                this.#ready = false;
                void this.#giveUp("address-lost");
              },
            );
          }, this.#o.lostGraceMs ?? 500);
        },
      );
    };
    this.#leaseTimer = setTimeout(tick, every);
  }

  #stopLease(): void {
    if (this.#leaseTimer) clearTimeout(this.#leaseTimer);
    this.#leaseTimer = undefined;
  }

  /** Steps down for a while, so the peer takes over; then becomes electable again. */
  async #giveUp(reason: "takeover-failed" | "address-lost"): Promise<void> {
    await this.#o.election.setFault(reason, true);
    const t = setTimeout(() => {
      this.#faultTimers.delete(t);
      this.#o.election
        .setFault(reason, false)
        .catch((err: unknown) =>
          this.#o.log("error", "cannot clear fault", { error: String(err) }),
        );
    }, this.#o.faultHoldMs ?? 5000);
    this.#faultTimers.add(t);
  }
}

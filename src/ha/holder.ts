// What a replica does when its role changes. Takeover: the addresses are there (the engine
// added and announced them, or we add them), they get a kernel lease, the prepared NAT rules
// go in, then readiness turns true. Letting go: readiness turns false at once (synchronously,
// before anything else), then NAT out, then the addresses out.
//
// The lease: the holder's addresses are given a kernel lifetime (valid_lft) that this process
// renews. A holder killed outright (SIGKILL of every process, a hung node) stops answering
// for the address when the lease runs out, even if nothing is left to remove it.
import type { SourceAddress } from "../config/types.ts";
import type { CommandRunner } from "../redirect/command-runner.ts";
import type { Election, Role, RoleChange } from "./election.ts";
import type { HaNat } from "./ha-nat.ts";

export interface HeldAddress {
  readonly address: SourceAddress;
  readonly dev: string;
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
  readonly nat: HaNat;
  readonly leaseSeconds: number;
  readonly log: (level: "debug" | "info" | "warn" | "error", msg: string, fields?: object) => void;
  readonly onTransition?: (t: Transition) => void;
  /** how long a "takeover-failed"/"address-lost" fault keeps this replica out; default 5 s */
  readonly faultHoldMs?: number;
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
      if (this.#role === "holder") await this.#o.nat.install();
    };
    const next = this.#chain.then(run);
    this.#chain = next.catch(() => undefined);
    await next;
  }

  /** Removes everything a holder has (start-up clean-up after a crash, and shutdown). */
  async release(): Promise<void> {
    this.#ready = false;
    this.#stopLease();
    for (const t of this.#faultTimers) clearTimeout(t);
    this.#faultTimers.clear();
    await this.#chain;
    await this.#letGo();
  }

  async #act(change: RoleChange): Promise<void> {
    if (change !== this.#latest) return; // a newer change supersedes this one
    const from = this.#role;
    this.#role = change.role;
    this.#reason = change.reason;
    this.#since = Date.now();
    let error: string | undefined;
    try {
      if (change.role === "holder") await this.#takeOver();
      else await this.#letGo();
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
      if (change.role === "holder") await this.#giveUp("takeover-failed");
    } else {
      this.#o.log(change.role === "holder" ? "info" : "warn", "role changed", { ...t });
    }
  }

  async #takeOver(): Promise<void> {
    const { runner, election } = this.#o;
    for (const h of this.#o.addresses) {
      if (!election.managesAddresses) {
        await runner.run(["ip", "address", "replace", cidr(h.address), "dev", h.dev, "nodad"]);
      } else if (!(await this.#has(h))) {
        throw new Error(
          `the election engine reported this replica as holder, but ${cidr(h.address)} is not on ${h.dev}`,
        );
      }
    }
    await this.#renewLease();
    await this.#o.nat.install();
    if (this.#latest?.role !== "holder") return; // lost it meanwhile: the next action undoes
    this.#ready = true;
    this.#startLease();
  }

  async #letGo(): Promise<void> {
    const errors: string[] = [];
    try {
      await this.#o.nat.remove();
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
    for (const h of this.#o.addresses) {
      // "Cannot assign requested address": already gone (the engine removed it)
      await this.#o.runner
        .run(["ip", "address", "del", cidr(h.address), "dev", h.dev], { okCodes: [0, 2] })
        .catch((err: unknown) => errors.push(err instanceof Error ? err.message : String(err)));
    }
    if (errors.length > 0) throw new Error(errors.join("; "));
  }

  async #has(h: HeldAddress): Promise<boolean> {
    const r = await this.#o.runner.run(["ip", "-j", "address", "show", "dev", h.dev]);
    const links = JSON.parse(r.stdout || "[]") as { addr_info?: { local?: string }[] }[];
    return links.some((l) => (l.addr_info ?? []).some((a) => a.local === h.address.address));
  }

  async #renewLease(): Promise<void> {
    const lft = String(Math.ceil(this.#o.leaseSeconds));
    for (const h of this.#o.addresses) {
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
          this.#o.log("error", "source address lost while holding", {
            error: err instanceof Error ? err.message : String(err),
          });
          this.#ready = false;
          void this.#giveUp("address-lost");
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

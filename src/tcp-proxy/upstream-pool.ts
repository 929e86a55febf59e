// The addresses of one target and what we know about each: up or down, until when a failed
// address is skipped, how many connections it carries. Picks the address for a new
// connection (round robin or least connections) among those that are usable.
import { isIPv6 } from "node:net";
import type { Balance } from "./forward-config.ts";

export interface Upstream {
  readonly address: string;
  readonly family: 4 | 6;
  up: boolean;
  /** while down: not tried before this time (ms since the epoch); Infinity: until a check passes */
  downUntil: number;
  /** consecutive failed connects (sets the backoff) */
  failures: number;
  /** consecutive failed / passed active checks */
  checkFailures: number;
  checkPasses: number;
  /** connections open through this thread */
  active: number;
  lastError: string | undefined;
}

/** The shareable part of an address's state (sent between threads). */
export interface UpstreamState {
  readonly address: string;
  readonly up: boolean;
  readonly downUntil: number;
  readonly failures: number;
  readonly lastError: string | undefined;
}

export class UpstreamPool {
  readonly key: string;
  readonly port: number;
  balance: Balance;
  /** with active checks, a down address waits for a passing check instead of its backoff */
  healthChecked: boolean;
  #list: Upstream[] = [];
  #next = 0;

  constructor(key: string, port: number, balance: Balance, healthChecked: boolean) {
    this.key = key;
    this.port = port;
    this.balance = balance;
    this.healthChecked = healthChecked;
  }

  get upstreams(): readonly Upstream[] {
    return this.#list;
  }

  /** Replaces the address set; addresses that stay keep their state, new ones start up. */
  setAddresses(addresses: readonly string[]): void {
    const old = new Map(this.#list.map((u) => [u.address, u]));
    this.#list = addresses.map(
      (address) =>
        old.get(address) ?? {
          address,
          family: isIPv6(address) ? 6 : 4,
          up: true,
          downUntil: 0,
          failures: 0,
          checkFailures: 0,
          checkPasses: 0,
          active: 0,
          lastError: undefined,
        },
    );
    if (this.#next >= this.#list.length) this.#next = 0;
  }

  /** Usable now: up, or down but its backoff ran out (without active checks) — a probe. */
  usable(u: Upstream, now: number): boolean {
    return u.up || (!this.healthChecked && now >= u.downUntil);
  }

  /** True when no address can be tried now (none known, or every one down). */
  allDown(now: number): boolean {
    return !this.#list.some((u) => this.usable(u, now));
  }

  /** The address for the next connect attempt, skipping those already `tried`. */
  pick(tried: readonly Upstream[], now: number): Upstream | undefined {
    const n = this.#list.length;
    let best: Upstream | undefined;
    let bestAt = 0;
    for (let i = 0; i < n; i++) {
      const at = (this.#next + i) % n;
      const u = this.#list[at] as Upstream;
      if (!this.usable(u, now) || tried.includes(u)) continue;
      if (this.balance === "round-robin") {
        best = u;
        bestAt = at;
        break;
      }
      if (best === undefined || u.active < best.active) {
        best = u;
        bestAt = at;
      }
    }
    if (best !== undefined) this.#next = (bestAt + 1) % n;
    return best;
  }

  /**
   * A connect failed: down, skipped for a backoff that doubles with each failure. Returns
   * true when this marked it down; failures of connects that were already under way when
   * it went down count once, so a burst does not run the backoff up to its maximum.
   */
  markFailed(u: Upstream, now: number, error: string, minMs: number, maxMs: number): boolean {
    u.lastError = error;
    u.checkPasses = 0;
    if (!u.up && now < u.downUntil) return false;
    u.failures += 1;
    u.up = false;
    u.downUntil = now + Math.min(maxMs, minMs * 2 ** Math.min(u.failures - 1, 20));
    return true;
  }

  /** A connect (or check) succeeded. Returns true when it was down. */
  markUp(u: Upstream): boolean {
    const wasDown = !u.up;
    u.up = true;
    u.downUntil = 0;
    u.failures = 0;
    u.lastError = undefined;
    return wasDown;
  }

  /** Active checks failed `fall` times: down until a check passes. */
  markCheckedDown(u: Upstream, error: string): void {
    u.up = false;
    u.downUntil = Infinity;
    u.lastError = error;
  }

  find(address: string): Upstream | undefined {
    return this.#list.find((u) => u.address === address);
  }

  states(): UpstreamState[] {
    return this.#list.map((u) => ({
      address: u.address,
      up: u.up,
      downUntil: u.downUntil,
      failures: u.failures,
      lastError: u.lastError,
    }));
  }

  /** Mirrors another thread's view: the same addresses, their up/down state. */
  applyStates(states: readonly UpstreamState[]): void {
    this.setAddresses(states.map((s) => s.address));
    for (const s of states) {
      const u = this.find(s.address);
      if (!u) continue;
      u.up = s.up;
      u.downUntil = s.downUntil;
      u.failures = s.failures;
      u.lastError = s.lastError;
    }
  }
}

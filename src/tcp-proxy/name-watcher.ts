// Keeps one target name resolved while the proxy runs: re-resolves when the answer's TTL
// runs out (kept within bounds), keeps the last good answer for a bounded time when DNS
// fails, and reports every change of the address set. Each resolution is published as a
// resolve event (observe/ turns them into logs and metrics).
import { publishResolve } from "../observe/events.ts";
import type { ResolverOptions } from "./forward-config.ts";
import type { LookupName } from "./lookup-name.ts";

export type ResolutionState = "pending" | "ok" | "stale" | "failed";

export interface NameStatus {
  readonly name: string;
  readonly state: ResolutionState;
  readonly addresses: readonly string[];
  readonly ttlSeconds: number | undefined;
  /** the last failure, while stale or failed */
  readonly error: string | undefined;
  /** ms since the epoch */
  readonly resolvedAt: number | undefined;
  readonly nextAt: number | undefined;
}

const maxRetryMs = 30_000;

export class NameWatcher {
  readonly name: string;
  readonly #lookup: LookupName;
  readonly #options: ResolverOptions;
  readonly #onChange: (addresses: readonly string[]) => void;
  #state: ResolutionState = "pending";
  #addresses: readonly string[] = [];
  #ttlSeconds: number | undefined;
  #error: string | undefined;
  #resolvedAt: number | undefined;
  #lastAttempt = 0;
  #nextAt: number | undefined;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #stopped = false;

  constructor(
    name: string,
    lookup: LookupName,
    options: ResolverOptions,
    onChange: (addresses: readonly string[]) => void,
  ) {
    this.name = name;
    this.#lookup = lookup;
    this.#options = options;
    this.#onChange = onChange;
  }

  /** Resolves now; the promise settles when this first answer (or failure) is in. */
  start(): Promise<void> {
    return this.#resolve();
  }

  /**
   * Re-resolves early, e.g. when every address failed: the name may have moved. At most
   * once per minimum TTL, so a dead destination does not turn into a DNS flood.
   */
  refreshSoon(): void {
    if (this.#stopped || this.#inFlight) return;
    const at = this.#lastAttempt + this.#options.minTtlMs;
    if (this.#nextAt !== undefined && this.#nextAt <= at) return;
    this.#schedule(Math.max(0, at - Date.now()));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  status(): NameStatus {
    return {
      name: this.name,
      state: this.#state,
      addresses: this.#addresses,
      ttlSeconds: this.#ttlSeconds,
      error: this.#error,
      resolvedAt: this.#resolvedAt,
      nextAt: this.#nextAt,
    };
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#nextAt = Date.now() + ms;
    this.#timer = setTimeout(() => void this.#resolve(), ms);
    this.#timer.unref(); // the listeners keep the process alive, not DNS timers
  }

  #resolve(): Promise<void> {
    if (this.#inFlight) return this.#inFlight;
    this.#lastAttempt = Date.now();
    this.#nextAt = undefined;
    this.#inFlight = this.#lookup(this.name).then(
      (answer) => {
        this.#inFlight = undefined;
        if (this.#stopped) return;
        if (answer.addresses.length === 0) this.#failed("the name has no address records");
        else this.#succeeded(answer.addresses, answer.ttlSeconds);
      },
      (err: unknown) => {
        this.#inFlight = undefined;
        if (this.#stopped) return;
        this.#failed(err instanceof Error ? err.message : String(err));
      },
    );
    return this.#inFlight;
  }

  #succeeded(addresses: readonly string[], ttlSeconds: number | undefined): void {
    const o = this.#options;
    const changed = !sameSet(addresses, this.#addresses);
    this.#state = "ok";
    this.#addresses = Object.freeze([...addresses]);
    this.#ttlSeconds = ttlSeconds;
    this.#error = undefined;
    this.#failures = 0;
    this.#resolvedAt = Date.now();
    const ttlMs = ttlSeconds === undefined ? o.minTtlMs : ttlSeconds * 1000;
    this.#schedule(Math.min(o.maxTtlMs, Math.max(o.minTtlMs, ttlMs)));
    publishResolve({
      name: this.name,
      ok: true,
      addresses: this.#addresses,
      ttlSeconds,
      error: undefined,
      stale: false,
    });
    if (changed) this.#onChange(this.#addresses);
  }

  #failed(error: string): void {
    this.#failures += 1;
    this.#error = error;
    const now = Date.now();
    const keep =
      this.#resolvedAt !== undefined &&
      this.#addresses.length > 0 &&
      now - this.#resolvedAt <= this.#options.staleMs;
    const dropped = !keep && this.#addresses.length > 0;
    if (keep) {
      this.#state = "stale";
    } else {
      this.#state = "failed";
      this.#addresses = Object.freeze([]);
    }
    // Retry sooner than a TTL: 1 s, 2 s, 4 s… up to 30 s (or the maximum TTL if lower).
    const retry = Math.min(1000 * 2 ** (this.#failures - 1), maxRetryMs, this.#options.maxTtlMs);
    this.#schedule(retry);
    publishResolve({
      name: this.name,
      ok: false,
      addresses: this.#addresses,
      ttlSeconds: undefined,
      error,
      stale: keep,
    });
    if (dropped) this.#onChange(this.#addresses);
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(b);
  return a.every((x) => s.has(x));
}

// The authoritative state of every target (one per destination:port in the rules): its pool
// of addresses, the watcher that keeps a name resolved, and the optional health checker.
// Lives in the main thread; worker threads mirror the pools through `onPoolChange`.
import type { UpstreamErrorKind } from "../observe/events.ts";
import type { PoolSource } from "./forward-engine.ts";
import type { ForwardOptions, ForwardRule } from "./forward-config.ts";
import { destinationText, targetKey } from "./forward-config.ts";
import { HealthChecker } from "./health-check.ts";
import type { LookupName } from "./lookup-name.ts";
import type { NameStatus } from "./name-watcher.ts";
import { NameWatcher } from "./name-watcher.ts";
import type { Upstream } from "./upstream-pool.ts";
import { UpstreamPool } from "./upstream-pool.ts";

interface Target {
  readonly key: string;
  readonly destination: string;
  readonly pool: UpstreamPool;
  readonly watcher: NameWatcher | undefined;
  readonly checker: HealthChecker | undefined;
}

export class TargetDirectory implements PoolSource {
  readonly #options: ForwardOptions;
  readonly #lookup: LookupName;
  readonly #onPoolChange: (key: string, pool: UpstreamPool) => void;
  readonly #targets = new Map<string, Target>();

  constructor(
    options: ForwardOptions,
    lookup: LookupName,
    onPoolChange: (key: string, pool: UpstreamPool) => void,
  ) {
    this.#options = options;
    this.#lookup = lookup;
    this.#onPoolChange = onPoolChange;
  }

  /**
   * Makes the targets match `rules`: new targets are created and their names resolved (the
   * promise waits for that first answer, so the first clients find addresses), targets no
   * rule uses any more are stopped. Targets that stay keep their state.
   */
  async update(rules: readonly ForwardRule[]): Promise<void> {
    const wanted = new Map<string, ForwardRule>();
    for (const r of rules) wanted.set(targetKey(r), r);
    const created: Target[] = [];
    for (const [key, rule] of wanted) {
      if (this.#targets.has(key)) continue;
      const t = this.#create(key, rule);
      this.#targets.set(key, t);
      created.push(t);
    }
    await Promise.all(created.map((t) => t.watcher?.start() ?? Promise.resolve()));
    // Announce every new pool, also those whose name did not resolve (workers then know why).
    for (const t of created) if (this.#targets.get(t.key) === t) this.#onPoolChange(t.key, t.pool);
    for (const [key, t] of this.#targets) {
      if (!wanted.has(key)) {
        this.#stopTarget(t);
        this.#targets.delete(key);
      }
    }
  }

  stop(): void {
    for (const t of this.#targets.values()) this.#stopTarget(t);
    this.#targets.clear();
  }

  pool(key: string): UpstreamPool | undefined {
    return this.#targets.get(key)?.pool;
  }

  nameStatus(key: string): NameStatus | undefined {
    return this.#targets.get(key)?.watcher?.status();
  }

  emptyReason(key: string): { kind: UpstreamErrorKind; message: string } {
    const t = this.#targets.get(key);
    const s = t?.watcher?.status();
    if (t === undefined || s === undefined) {
      return { kind: "no-address", message: `${key}: no address` };
    }
    if (s.state === "pending") {
      return { kind: "resolve-failed", message: `${s.name}: not resolved yet` };
    }
    return {
      kind: "resolve-failed",
      message: s.error ?? `${s.name}: no address`,
    };
  }

  failed(key: string, u: Upstream): void {
    const t = this.#targets.get(key);
    if (!t || t.pool.find(u.address) !== u) return;
    // Every address failing suggests the name moved: ask DNS again without waiting for the TTL.
    if (t.watcher && t.pool.allDown(Date.now())) t.watcher.refreshSoon();
    this.#onPoolChange(key, t.pool);
  }

  succeeded(key: string, _u: Upstream): void {
    const t = this.#targets.get(key);
    if (t) this.#onPoolChange(key, t.pool);
  }

  /** A worker thread saw a connect fail or succeed: apply it here, then it goes to every thread. */
  reportedElsewhere(key: string, address: string, error: string | undefined): void {
    const t = this.#targets.get(key);
    const u = t?.pool.find(address);
    if (!t || !u) return;
    if (error === undefined) {
      if (t.pool.markUp(u)) this.succeeded(key, u);
      return;
    }
    const o = this.#options;
    if (t.pool.markFailed(u, Date.now(), error, o.backoffMinMs, o.backoffMaxMs)) {
      this.failed(key, u);
    }
  }

  *entries(): Generator<[string, UpstreamPool]> {
    for (const [key, t] of this.#targets) yield [key, t.pool];
  }

  #create(key: string, rule: ForwardRule): Target {
    const o = this.#options;
    const healthChecked = o.healthCheck.intervalMs > 0;
    const pool = new UpstreamPool(key, rule.remotePort, o.balance, healthChecked);
    const destination = destinationText(rule);
    let watcher: NameWatcher | undefined;
    if (rule.target.kind === "address") {
      pool.setAddresses([rule.target.address]);
    } else {
      watcher = new NameWatcher(rule.target.name, this.#lookup, o.resolver, (addresses) => {
        pool.setAddresses(addresses);
        this.#onPoolChange(key, pool);
      });
    }
    const checker = healthChecked
      ? new HealthChecker(pool, o.healthCheck, destination, () => {
          this.#onPoolChange(key, pool);
        })
      : undefined;
    checker?.start();
    return { key, destination, pool, watcher, checker };
  }

  #stopTarget(t: Target): void {
    t.watcher?.stop();
    t.checker?.stop();
  }
}

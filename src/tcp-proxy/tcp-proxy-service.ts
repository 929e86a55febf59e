// The DNS (TCP) proxy as a Service for the daemon host. The main thread keeps the targets
// (DNS, health). With one thread it also forwards; with more, `threads` worker threads
// forward on the same ports (SO_REUSEPORT), each logging and counting its own connections,
// and the main thread is left to the targets and the admin server: nothing crosses
// between threads per connection. apply() swaps rules for new connections only; stop()
// drains.
import { isIPv4 } from "node:net";
import type { MetricFamilies } from "../observe/metrics.ts";
import type { Service, ServiceHost, ServiceStatus } from "../observe/service.ts";
import { ConnectionLimit } from "./connection-limit.ts";
import type { EngineStats } from "./forward-engine.ts";
import { ForwardEngine, oldestListed } from "./forward-engine.ts";
import type { ForwardConfig, ForwardRule } from "./forward-config.ts";
import { targetKey } from "./forward-config.ts";
import { ForwardWorkers } from "./forward-workers.ts";
import { checkPortFree } from "./listener.ts";
import type { LookupName } from "./lookup-name.ts";
import { createLookup } from "./lookup-name.ts";
import { TargetDirectory } from "./target-directory.ts";
import type { UpstreamPool } from "./upstream-pool.ts";

export interface TcpProxyDeps {
  /** DNS lookups (default: c-ares with the configured servers) */
  readonly lookup?: LookupName;
  /** how the daemon logs: worker threads log (and count) alike; without it they do neither */
  readonly host?: ServiceHost;
}

export interface TcpProxyService extends Service<ForwardConfig> {
  /** the options it runs with (fixed at creation: apply() takes new rules only) */
  readonly options: ForwardConfig["options"];
  /** the worker threads' connection metrics (none with one thread: those are the host's) */
  metricFamilies(): Promise<MetricFamilies[]>;
}

export function createTcpProxyService(
  config: ForwardConfig,
  deps: TcpProxyDeps = {},
): TcpProxyService {
  return new TcpProxy(config, deps);
}

class TcpProxy implements TcpProxyService {
  readonly options: ForwardConfig["options"];
  #rules: readonly ForwardRule[];
  readonly #limit: ConnectionLimit;
  readonly #directory: TargetDirectory;
  readonly #engine: ForwardEngine | undefined;
  readonly #workers: ForwardWorkers | undefined;
  #started = false;

  constructor(config: ForwardConfig, deps: TcpProxyDeps) {
    this.options = config.options;
    this.#rules = config.rules;
    const o = config.options;
    this.#limit = new ConnectionLimit(o.maxConnections);
    const threads = Math.max(1, Math.floor(o.threads));
    this.#workers =
      threads > 1
        ? new ForwardWorkers(
            threads,
            o,
            this.#limit.memory,
            (key, address, error) => {
              this.#directory.reportedElsewhere(key, address, error);
            },
            deps.host && { log: deps.host.log, version: deps.host.version, mode: "dns-proxy" },
          )
        : undefined;
    this.#directory = new TargetDirectory(
      o,
      deps.lookup ?? createLookup(o.resolver),
      (key, pool) => {
        this.#poolChanged(key, pool);
      },
    );
    this.#engine =
      threads > 1 ? undefined : new ForwardEngine(o, this.#directory, this.#limit, false);
  }

  async start(): Promise<void> {
    await this.#workers?.start();
    await this.#switch([], this.#rules);
    this.#started = true;
  }

  async apply(config: ForwardConfig): Promise<void> {
    if (!this.#started) {
      this.#rules = config.rules;
      return;
    }
    await this.#switch(this.#rules, config.rules);
    this.#rules = config.rules;
  }

  async stop(drainMs: number): Promise<void> {
    await Promise.all([this.#engine?.stopAccepting(), this.#workers?.stopAccepting()]);
    let timer: NodeJS.Timeout | undefined;
    const drained = Promise.all([this.#engine?.whenIdle(), this.#workers?.whenIdle()]);
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, drainMs);
    });
    await Promise.race([drained, late]);
    clearTimeout(timer);
    this.#engine?.closeAll("drain");
    await Promise.all([this.#engine?.whenIdle(), this.#workers?.closeAll("drain")]);
    this.#directory.stop();
    await this.#workers?.terminate();
  }

  metricFamilies(): Promise<MetricFamilies[]> {
    return this.#workers?.metricFamilies() ?? Promise.resolve([]);
  }

  status(): ServiceStatus {
    const all: EngineStats[] = [
      ...(this.#engine ? [this.#engine.stats()] : []),
      ...(this.#workers?.stats() ?? []),
    ];
    const hits = new Map<number, number>();
    const active = new Map<number, number>();
    for (const s of all) {
      for (const r of s.rules) {
        hits.set(r.port, (hits.get(r.port) ?? 0) + r.hits);
        active.set(r.port, (active.get(r.port) ?? 0) + r.active);
      }
    }
    return {
      mode: "dns-proxy",
      listeners: this.#listeners(all),
      activeConnections: this.#limit.open,
      openConnections: this.#workers ? this.#openConnections(all) : undefined,
      rules: this.#rules.map((r) => {
        const pool = this.#directory.pool(targetKey(r));
        return {
          line: r.line,
          text: r.text,
          hits: hits.get(r.localPort) ?? 0,
          addresses: (pool?.upstreams ?? []).map((u) => ({ address: u.address, up: u.up })),
        };
      }),
      dnsProxy: {
        maxConnections: this.#limit.max,
        refusedAtLimit: all.reduce((n, s) => n + s.refusedAtLimit, 0),
        threads: this.#workers?.count ?? 1,
        threadRestarts: this.#workers?.restarts ?? 0,
        rules: this.#rules.map((r) => this.#ruleDetail(r, active.get(r.localPort) ?? 0)),
      },
    };
  }

  /** Worker threads' connections, for the status page (their events stay in their threads). */
  #openConnections(all: readonly EngineStats[]): ServiceStatus["openConnections"] {
    const byListener: Record<string, number> = {};
    for (const s of all) {
      for (const r of s.rules) {
        if (r.active > 0)
          byListener[`dns-proxy:${r.port}`] = (byListener[`dns-proxy:${r.port}`] ?? 0) + r.active;
      }
    }
    const oldest = all
      .flatMap((s) => s.oldest)
      .sort((a, b) => a.since - b.since)
      .slice(0, oldestListed)
      .map((c) => ({
        mode: "dns-proxy",
        listener: c.listener,
        client: c.client,
        since: new Date(c.since).toISOString(),
      }));
    return { total: this.#limit.open, byListener, oldest };
  }

  #ruleDetail(r: ForwardRule, activeConnections: number): Record<string, unknown> {
    const key = targetKey(r);
    const pool = this.#directory.pool(key);
    const name = this.#directory.nameStatus(key);
    const time = (ms: number | undefined): string | undefined =>
      ms === undefined || !Number.isFinite(ms) || ms === 0 ? undefined : new Date(ms).toISOString();
    return {
      line: r.line,
      port: r.localPort,
      destination: key,
      activeConnections,
      idleTimeoutSeconds: r.idleTimeoutMs / 1000,
      resolution:
        name === undefined
          ? undefined
          : {
              state: name.state,
              ttlSeconds: name.ttlSeconds,
              error: name.error,
              resolvedAt: time(name.resolvedAt),
              nextAt: time(name.nextAt),
            },
      addresses: (pool?.upstreams ?? []).map((u) => ({
        address: u.address,
        up: u.up,
        downUntil: u.up
          ? undefined
          : u.downUntil === Infinity
            ? "until a check passes"
            : time(u.downUntil),
        lastError: u.lastError,
      })),
    };
  }

  /**
   * The worker threads bind with SO_REUSEPORT, which would let them join a port another
   * program of the same user listens on (sharing its connections) instead of failing; so
   * each port new in `to` is first bound plainly here, once. Throws as the bind would.
   */
  #checkNewPortsFree(from: readonly ForwardRule[], to: readonly ForwardRule[]): void {
    const open = new Set(from.map((r) => r.localPort));
    const addresses = this.options.listenAddresses;
    const ipv6Only = addresses.some((a) => isIPv4(a));
    const failures: string[] = [];
    for (const r of to) {
      if (open.has(r.localPort)) continue;
      for (const address of addresses) {
        try {
          checkPortFree(address, r.localPort, ipv6Only);
        } catch (err) {
          failures.push(`EGRESS_DNS_PROXY_DESTINATION line ${r.line}: ${(err as Error).message}`);
        }
      }
    }
    if (failures.length > 0) throw new Error(failures.sort().join("; "));
  }

  /**
   * From `from` to `to`: targets for the new rules first (names resolved), then listeners
   * in every thread; if a listener cannot open, every thread goes back to `from` and the
   * error is thrown. Targets only the old rules used are dropped last.
   */
  async #switch(from: readonly ForwardRule[], to: readonly ForwardRule[]): Promise<void> {
    if (this.#workers) this.#checkNewPortsFree(from, to);
    await this.#directory.update([...from, ...to]);
    try {
      // The workers put themselves back to `from` when one of them fails.
      if (this.#engine) await this.#engine.apply(to);
      else await this.#workers?.apply(to);
    } catch (err) {
      await this.#directory.update(from);
      throw err;
    }
    await this.#workers?.refreshStats();
    const kept = new Set(to.map(targetKey));
    const dropped = from.map(targetKey).filter((k) => !kept.has(k));
    await this.#directory.update(to);
    for (const key of new Set(dropped)) this.#workers?.dropPool(key);
  }

  /**
   * Every port on every listen address, up when each forwarding thread listens on it (the
   * readiness probe reads this). Worker statistics are at most a second old.
   */
  #listeners(all: readonly EngineStats[]): ServiceStatus["listeners"] {
    const bound = new Map<string, { address: string; port: number; count: number }>();
    for (const s of all) {
      for (const l of s.listeners) {
        const id = `${l.address}|${l.port}`;
        const b = bound.get(id) ?? { address: l.address, port: l.port, count: 0 };
        b.count += 1;
        bound.set(id, b);
      }
    }
    const threads = this.#workers?.count ?? 1;
    const out = [...bound.values()].map((b) => ({
      address: b.address,
      port: b.port,
      up: b.count === threads,
    }));
    for (const r of this.#rules) {
      if (!out.some((l) => l.port === r.localPort)) {
        for (const address of this.options.listenAddresses) {
          out.push({ address, port: r.localPort, up: false });
        }
      }
    }
    return out.sort((a, b) => a.port - b.port || a.address.localeCompare(b.address));
  }

  #poolChanged(key: string, pool: UpstreamPool): void {
    this.#workers?.pool({
      t: "pool",
      key,
      port: pool.port,
      states: pool.states(),
      empty: this.#directory.emptyReason(key),
    });
  }
}

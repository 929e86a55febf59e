// The forwarding work of one thread: a listener per rule and listen address, and for each
// accepted connection: limit check → pick an address → connect (with failover) → splice.
// Which pool a rule uses, and the health of its addresses, comes from a PoolSource (the
// main thread's directory, or a worker's mirror of it). Sockets are raw TCP handles
// (net/raw-tcp.ts): this is the hot path of the DNS proxy.
import { isIPv4 } from "node:net";
import type { CloseReason, UpstreamErrorKind } from "../observe/events.ts";
import {
  channels,
  publishConnectLatency,
  publishConnectionClose,
  publishConnectionOpen,
} from "../observe/events.ts";
import type { Clock, RawSplice, SpliceOwner } from "../net/raw-splice.ts";
import { spliceHandles } from "../net/raw-splice.ts";
import type { TcpHandle } from "../net/raw-tcp.ts";
import { peerText } from "../net/raw-tcp.ts";
import type { ConnectionCounts, ListenerCounts } from "./connection-counts.ts";
import type { ConnectionLimit } from "./connection-limit.ts";
import type { Dial, DialFailure, DialOptions, DialOwner } from "./dial.ts";
import { dialPool } from "./dial.ts";
import type { ForwardOptions, ForwardRule } from "./forward-config.ts";
import { destinationText, targetKey } from "./forward-config.ts";
import type { Listener } from "./listener.ts";
import { bindListener } from "./listener.ts";
import type { Upstream, UpstreamPool } from "./upstream-pool.ts";

export interface PoolSource {
  pool(key: string): UpstreamPool | undefined;
  /** why a pool has no address (e.g. the name does not resolve) */
  emptyReason(key: string): { kind: UpstreamErrorKind; message: string };
  /** an address was marked down here */
  failed(key: string, u: Upstream): void;
  /** an address that was down connected again here */
  succeeded(key: string, u: Upstream): void;
}

/** A rule as the data path holds it: new connections on its port use the current one. */
interface RuleRuntime {
  readonly rule: ForwardRule;
  readonly key: string;
  readonly destination: string;
  readonly listener: string;
  readonly dial: DialOptions;
  /** this port's metrics, when the engine counts its own */
  readonly counts: ListenerCounts | undefined;
  hits: number;
}

/** One open connection as the status page lists it. */
export interface OpenConnectionInfo {
  readonly listener: string;
  readonly client: string;
  /** when it was accepted, ms since the epoch */
  readonly since: number;
}

export interface EngineStats {
  readonly listeners: { readonly address: string; readonly port: number; readonly up: boolean }[];
  readonly active: number;
  readonly refusedAtLimit: number;
  readonly rules: { readonly port: number; readonly hits: number; readonly active: number }[];
  /** the longest-open connections, oldest first (at most `oldestListed`) */
  readonly oldest: OpenConnectionInfo[];
}

/** How many of its oldest open connections an engine lists in its statistics. */
export const oldestListed = 20;

/** Closes a client handle that will not be forwarded with a RST (no callback). */
function resetClient(client: TcpHandle): void {
  if (client.reset() !== 0) client.close();
}

/**
 * One accepted connection: dialing, then spliced. It is its own dial and splice owner, and
 * a link in the engine's list of open connections (oldest first): no closure, Set entry or
 * timer per connection.
 */
class Connection implements DialOwner, SpliceOwner {
  readonly engine: ForwardEngine;
  readonly rt: RuleRuntime;
  readonly client: TcpHandle;
  readonly clientText: string;
  readonly startedAt: number;
  /** Date.now() at accept, for the status page */
  readonly since: number;
  upstream: Upstream | undefined = undefined;
  splice: RawSplice | undefined = undefined;
  dial: Dial | undefined = undefined;
  finished = false;
  prev: Connection | undefined = undefined;
  next: Connection | undefined = undefined;

  constructor(engine: ForwardEngine, rt: RuleRuntime, client: TcpHandle, clientText: string) {
    this.engine = engine;
    this.rt = rt;
    this.client = client;
    this.clientText = clientText;
    this.startedAt = performance.now();
    this.since = engine.clock.now;
  }

  dialed(failure: DialFailure | undefined, handle?: TcpHandle, u?: Upstream): void {
    this.dial = undefined;
    if (failure !== undefined || handle === undefined || u === undefined) {
      // Nothing to forward to: a reset tells the client at once (no hang, no fake EOF). Its
      // slot is free before the client can learn of the reset and come back.
      this.end("connect-failed", 0, 0);
      resetClient(this.client);
      return;
    }
    const engine = this.engine;
    const seconds = (performance.now() - this.startedAt) / 1000;
    if (engine.counts !== undefined) engine.counts.connectDuration(seconds);
    else if (channels.connectLatency.hasSubscribers) {
      publishConnectLatency({ mode: "dns-proxy", seconds });
    }
    this.upstream = u;
    u.active += 1;
    this.splice = spliceHandles(
      this.client,
      handle,
      {
        keepAliveMs: engine.options.keepAliveMs,
        clientOptionsSet: true,
        deferUpstreamKeepAlive: true, // the sweeper turns it on within a tick
      },
      engine.clock,
      this,
    );
  }

  spliceEnded(s: RawSplice): void {
    if (this.upstream !== undefined) this.upstream.active -= 1;
    this.end(s.end ?? "done", s.bytesFromClient, s.bytesToClient);
  }

  close(reason: CloseReason): void {
    if (this.splice) {
      this.splice.close(reason);
      return;
    }
    if (this.finished) return;
    this.dial?.cancel();
    this.dial = undefined;
    this.end(reason, 0, 0);
    resetClient(this.client);
  }

  end(reason: CloseReason, fromClient: number, toClient: number): void {
    if (this.finished) return;
    this.finished = true;
    const engine = this.engine;
    engine.connectionEnded(this);
    const counts = this.rt.counts;
    if (counts !== undefined) {
      counts.close(reason);
      const all = engine.counts as ConnectionCounts;
      all.bytesFromClient += fromClient;
      all.bytesToClient += toClient;
      if (!engine.connectionLines) return;
    } else if (!channels.connectionClose.hasSubscribers) return;
    publishConnectionClose({
      mode: "dns-proxy",
      listener: this.rt.listener,
      client: this.clientText,
      destination: this.rt.destination,
      address: this.upstream?.address,
      ruleLine: this.rt.rule.line,
      bytesFromClient: fromClient,
      bytesToClient: toClient,
      durationMs: Math.round(performance.now() - this.startedAt),
      end: reason,
    });
  }
}

export class ForwardEngine {
  readonly options: ForwardOptions;
  /** coarse time for idle tracking, advanced by the sweeper and at each accept */
  readonly clock: Clock = { now: Date.now() };
  /**
   * Where this engine counts its connection metrics itself (a forwarding worker thread,
   * whose counts the main thread reads when /metrics is read). Without it, the engine
   * publishes its connections' events for the host's metrics and status page, as every
   * mode on the main thread does.
   */
  readonly counts: ConnectionCounts | undefined;
  /**
   * With `counts`: whether connection events are published at all (only a line per
   * connection needs them).
   */
  connectionLines = false;
  /**
   * Whether events carry the client's address even when nothing on this thread subscribes to
   * connection events by name of the client (a log line per connection, the status page's
   * table): reading it is a system call per connection. When false, events carry the client
   * only while someone subscribes to connection-open or connection-close AND wants clients.
   */
  clientAddresses = true;
  readonly #pools: PoolSource;
  readonly #limit: ConnectionLimit;
  readonly #reusePort: boolean;
  readonly #listeners = new Map<string, Listener>();
  readonly #runtimes = new Map<number, RuleRuntime>();
  /** open connections, oldest first (a list through the connections themselves) */
  #first: Connection | undefined;
  #last: Connection | undefined;
  #active = 0;
  #idleWaiters: (() => void)[] = [];
  #refusedAtLimit = 0;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(
    options: ForwardOptions,
    pools: PoolSource,
    limit: ConnectionLimit,
    reusePort: boolean,
    counts?: ConnectionCounts,
  ) {
    this.options = options;
    this.#pools = pools;
    this.#limit = limit;
    this.#reusePort = reusePort;
    this.counts = counts;
  }

  /**
   * Makes the listeners match `rules`: opens new ports first (if one fails, closes what it
   * opened and throws, leaving everything as it was), points kept ports at their new rule
   * (for new connections only), then stops accepting on removed ports; their open
   * connections carry on until they end.
   */
  apply(rules: readonly ForwardRule[]): Promise<void> {
    const wanted = new Map<string, { address: string; port: number; line: number }>();
    for (const r of rules) {
      for (const address of this.options.listenAddresses) {
        wanted.set(`${address}|${r.localPort}`, { address, port: r.localPort, line: r.line });
      }
    }
    const opened: [string, Listener][] = [];
    const failures: string[] = [];
    for (const [id, w] of wanted) {
      if (this.#listeners.has(id)) continue;
      try {
        const l = bindListener(w.address, w.port, {
          reusePort: this.#reusePort,
          ipv6Only: this.options.listenAddresses.some((a) => isIPv4(a)),
          keepAliveMs: this.options.keepAliveMs,
          onConnection: this,
        });
        opened.push([id, l]);
      } catch (err) {
        failures.push(`EGRESS_DNS_PROXY_DESTINATION line ${w.line}: ${(err as Error).message}`);
      }
    }
    if (failures.length > 0) {
      for (const [, l] of opened) l.close();
      return Promise.reject(new Error(failures.sort().join("; ")));
    }
    for (const [id, l] of opened) this.#listeners.set(id, l);
    const runtimes = new Map<number, RuleRuntime>();
    for (const rule of rules) {
      const old = this.#runtimes.get(rule.localPort);
      const same = old !== undefined && old.rule.text === rule.text;
      const listener = String(rule.localPort);
      runtimes.set(rule.localPort, {
        rule,
        key: targetKey(rule),
        destination: destinationText(rule),
        listener,
        dial: this.#dialOptions(rule),
        counts: this.counts?.listener(listener),
        hits: same ? old.hits : 0,
      });
    }
    this.#runtimes.clear();
    for (const [port, rt] of runtimes) this.#runtimes.set(port, rt);
    for (const [id, l] of [...this.#listeners]) {
      if (wanted.has(id)) continue;
      this.#listeners.delete(id);
      l.close();
    }
    this.#startSweeper(rules);
    return Promise.resolve();
  }

  /** Stops accepting on every port; open connections carry on. */
  stopAccepting(): Promise<void> {
    for (const l of this.#listeners.values()) l.close();
    this.#listeners.clear();
    return Promise.resolve();
  }

  /** Ends every open connection now (e.g. when the drain time is over). */
  closeAll(reason: CloseReason): void {
    for (let c = this.#first; c !== undefined;) {
      const next = c.next; // close() unlinks c
      c.close(reason);
      c = next;
    }
  }

  get active(): number {
    return this.#active;
  }

  /** Resolves once no connection is open. */
  whenIdle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  stats(): EngineStats {
    const byPort = new Map<number, number>();
    for (let c = this.#first; c !== undefined; c = c.next) {
      const p = c.rt.rule.localPort;
      byPort.set(p, (byPort.get(p) ?? 0) + 1);
    }
    return {
      listeners: [...this.#listeners.values()].map((l) => ({
        address: l.address,
        port: l.port,
        up: true,
      })),
      active: this.#active,
      refusedAtLimit: this.#refusedAtLimit,
      rules: [...this.#runtimes.values()].map((rt) => ({
        port: rt.rule.localPort,
        hits: rt.hits,
        active: byPort.get(rt.rule.localPort) ?? 0,
      })),
      oldest: this.#oldest(),
    };
  }

  /** The list's first entries are the oldest connections. */
  #oldest(): OpenConnectionInfo[] {
    const out: OpenConnectionInfo[] = [];
    for (let c = this.#first; c !== undefined && out.length < oldestListed; c = c.next) {
      out.push({
        listener: c.rt.listener,
        client: c.clientText || peerText(c.client),
        since: c.since,
      });
    }
    return out;
  }

  connectionEnded(c: Connection): void {
    // Unlink.
    if (c.prev === undefined) this.#first = c.next;
    else c.prev.next = c.next;
    if (c.next === undefined) this.#last = c.prev;
    else c.next.prev = c.prev;
    c.prev = undefined;
    c.next = undefined;
    this.#active -= 1;
    this.#limit.release();
    if (this.#active === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
      if (this.#listeners.size === 0) this.#stopSweeper();
    }
  }

  /**
   * One timer for every connection's idle timeout and connect timeout: each tick advances
   * the coarse clock, closes the connections idle too long, and fails connect attempts that
   * have waited too long. Ticks at a quarter of the shortest of those timeouts (between
   * 25 ms and 1 s). Activity is stamped with the clock, which may be one tick behind, so a
   * connection is closed only when idle for its timeout plus a tick: never early, at most
   * two ticks late. A connect attempt is timed from the exact time it started: never early,
   * at most a tick late.
   */
  #startSweeper(rules: readonly ForwardRule[]): void {
    const timeouts = rules.map((r) => r.idleTimeoutMs).filter((ms) => ms > 0);
    const connect = this.options.connectTimeoutMs;
    const tick = Math.min(1000, Math.max(25, Math.min(...timeouts, connect, 4000) / 4));
    this.#stopSweeper();
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      this.clock.now = now;
      for (let c = this.#first; c !== undefined;) {
        const next = c.next; // closing unlinks c
        const s = c.splice;
        if (s !== undefined) {
          const idle = c.rt.rule.idleTimeoutMs;
          if (idle > 0 && now - s.lastActivity - tick >= idle) s.close("idle-timeout");
          else s.enableKeepAlive();
        } else {
          c.dial?.checkTimeout(now);
        }
        c = next;
      }
    }, tick);
    this.#sweeper.unref();
  }

  #stopSweeper(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #dialOptions(rule: ForwardRule): DialOptions {
    const key = targetKey(rule);
    const o = this.options;
    const counts = this.counts;
    return {
      connectTimeoutMs: o.connectTimeoutMs,
      retries: o.retries,
      backoffMinMs: o.backoffMinMs,
      backoffMaxMs: o.backoffMaxMs,
      destination: destinationText(rule),
      emptyReason: () => this.#pools.emptyReason(key),
      onFailed: (u) => {
        this.#pools.failed(key, u);
      },
      onUp: (u) => {
        this.#pools.succeeded(key, u);
      },
      onError: counts
        ? (kind) => {
            counts.upstreamError(kind);
          }
        : undefined,
    };
  }

  /** A listener accepted `client` on `port` (listener.ts calls this). */
  accept(port: number, client: TcpHandle): void {
    const rt = this.#runtimes.get(port);
    const counts = rt?.counts;
    const events =
      counts !== undefined
        ? this.connectionLines
        : channels.connectionOpen.hasSubscribers || channels.connectionClose.hasSubscribers;
    const clientText = events && this.clientAddresses ? peerText(client) : "";
    if (rt === undefined) {
      resetClient(client); // the rule went away meanwhile
      return;
    }
    if (!this.#limit.acquire()) {
      this.#refusedAtLimit += 1;
      resetClient(client);
      if (counts !== undefined) {
        counts.opened += 1;
        counts.active += 1;
        counts.close("limit");
      }
      if (events) this.#publishRefused(rt, clientText);
      return;
    }
    rt.hits += 1;
    const now = Date.now();
    this.clock.now = now;
    const c = new Connection(this, rt, client, clientText);
    // Link at the end (newest).
    c.prev = this.#last;
    if (this.#last === undefined) this.#first = c;
    else this.#last.next = c;
    this.#last = c;
    this.#active += 1;
    if (counts !== undefined) {
      counts.opened += 1;
      counts.active += 1;
    }
    if (events) {
      this.#publishOpen(rt, clientText);
    }
    const pool = this.#pools.pool(rt.key);
    if (pool === undefined) {
      c.dialed({ ...this.#pools.emptyReason(rt.key), attempts: 0 });
      return;
    }
    const dial = dialPool(pool, rt.dial, c, now);
    // A dial with no usable address has already failed (synchronously) by now.
    if (!c.finished && c.splice === undefined) c.dial = dial;
  }

  #publishOpen(rt: RuleRuntime, clientText: string): void {
    publishConnectionOpen({
      mode: "dns-proxy",
      listener: rt.listener,
      client: clientText,
      destination: rt.destination,
      ruleLine: rt.rule.line,
    });
  }

  #publishRefused(rt: RuleRuntime, clientText: string): void {
    this.#publishOpen(rt, clientText);
    publishConnectionClose({
      mode: "dns-proxy",
      listener: rt.listener,
      client: clientText,
      destination: rt.destination,
      address: undefined,
      ruleLine: rt.rule.line,
      bytesFromClient: 0,
      bytesToClient: 0,
      durationMs: 0,
      end: "limit",
    });
  }
}

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
import type { Clock, RawSplice } from "../net/raw-splice.ts";
import { spliceHandles } from "../net/raw-splice.ts";
import type { TcpHandle } from "../net/raw-tcp.ts";
import { peerText } from "../net/raw-tcp.ts";
import type { TunnelResult } from "../net/tunnel.ts";
import type { ConnectionLimit } from "./connection-limit.ts";
import type { Dial, DialFailure, DialOptions } from "./dial.ts";
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

function onClientClosed(): void {}

class Connection {
  readonly engine: ForwardEngine;
  readonly rt: RuleRuntime;
  readonly client: TcpHandle;
  readonly clientText: string;
  readonly startedAt: number;
  /** Date.now() at accept, for the status page */
  readonly since: number;
  upstream: Upstream | undefined;
  splice: RawSplice | undefined;
  dial: Dial | undefined;
  finished = false;

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
      // Nothing to forward to: a reset tells the client at once (no hang, no fake EOF).
      if (this.client.reset(onClientClosed) !== 0) this.client.close();
      this.end("connect-failed", 0, 0);
      return;
    }
    if (channels.connectLatency.hasSubscribers) {
      publishConnectLatency({
        mode: "dns-proxy",
        seconds: (performance.now() - this.startedAt) / 1000,
      });
    }
    this.upstream = u;
    u.active += 1;
    this.splice = spliceHandles(
      this.client,
      handle,
      {
        keepAliveMs: this.engine.options.keepAliveMs,
        clientOptionsSet: true,
        deferUpstreamKeepAlive: true, // the sweeper turns it on within a tick
      },
      this.engine.clock,
      (r: TunnelResult) => {
        u.active -= 1;
        this.end(r.end, r.bytesFromClient, r.bytesToClient);
      },
    );
  }

  close(reason: CloseReason): void {
    if (this.splice) {
      this.splice.close(reason);
      return;
    }
    this.dial?.cancel();
    this.dial = undefined;
    if (this.client.reset(onClientClosed) !== 0) this.client.close();
    this.end(reason, 0, 0);
  }

  end(reason: CloseReason, fromClient: number, toClient: number): void {
    if (this.finished) return;
    this.finished = true;
    this.engine.connectionEnded(this);
    if (!channels.connectionClose.hasSubscribers) return;
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
  /** coarse time for idle tracking, advanced by the sweeper */
  readonly clock: Clock = { now: Date.now() };
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
  readonly #connections = new Set<Connection>();
  #idleWaiters: (() => void)[] = [];
  #refusedAtLimit = 0;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(
    options: ForwardOptions,
    pools: PoolSource,
    limit: ConnectionLimit,
    reusePort: boolean,
  ) {
    this.options = options;
    this.#pools = pools;
    this.#limit = limit;
    this.#reusePort = reusePort;
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
          onConnection: (client) => {
            this.#accept(w.port, client);
          },
        });
        opened.push([id, l]);
      } catch (err) {
        failures.push(`line ${w.line}: ${(err as Error).message}`);
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
      runtimes.set(rule.localPort, {
        rule,
        key: targetKey(rule),
        destination: destinationText(rule),
        listener: String(rule.localPort),
        dial: this.#dialOptions(rule),
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
    for (const c of [...this.#connections]) c.close(reason);
  }

  get active(): number {
    return this.#connections.size;
  }

  /** Resolves once no connection is open. */
  whenIdle(): Promise<void> {
    if (this.#connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  stats(): EngineStats {
    const byPort = new Map<number, number>();
    for (const c of this.#connections) {
      const p = c.rt.rule.localPort;
      byPort.set(p, (byPort.get(p) ?? 0) + 1);
    }
    return {
      listeners: [...this.#listeners.values()].map((l) => ({
        address: l.address,
        port: l.port,
        up: true,
      })),
      active: this.#connections.size,
      refusedAtLimit: this.#refusedAtLimit,
      rules: [...this.#runtimes.values()].map((rt) => ({
        port: rt.rule.localPort,
        hits: rt.hits,
        active: byPort.get(rt.rule.localPort) ?? 0,
      })),
      oldest: this.#oldest(),
    };
  }

  /** The Set keeps insertion order: its first entries are the oldest connections. */
  #oldest(): OpenConnectionInfo[] {
    const out: OpenConnectionInfo[] = [];
    for (const c of this.#connections) {
      if (out.length >= oldestListed) break;
      out.push({
        listener: c.rt.listener,
        client: c.clientText || peerText(c.client),
        since: c.since,
      });
    }
    return out;
  }

  connectionEnded(c: Connection): void {
    this.#connections.delete(c);
    this.#limit.release();
    if (this.#connections.size === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
      if (this.#listeners.size === 0) this.#stopSweeper();
    }
  }

  /**
   * One timer for every connection's idle timeout: each tick advances the coarse clock and
   * closes the connections idle too long. Ticks at a quarter of the shortest idle timeout
   * (between 25 ms and 1 s). Activity is stamped with the clock, which may be one tick
   * behind, so a connection is closed only when idle for its timeout plus a tick: never
   * early, at most two ticks late.
   */
  #startSweeper(rules: readonly ForwardRule[]): void {
    const timeouts = rules.map((r) => r.idleTimeoutMs).filter((ms) => ms > 0);
    const tick = Math.min(1000, Math.max(25, Math.min(...timeouts, 4000) / 4));
    this.#stopSweeper();
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      this.clock.now = now;
      for (const c of this.#connections) {
        const idle = c.rt.rule.idleTimeoutMs;
        const s = c.splice;
        if (s === undefined) continue;
        if (idle > 0 && now - s.lastActivity - tick >= idle) s.close("idle-timeout");
        else s.enableKeepAlive();
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
    };
  }

  #accept(port: number, client: TcpHandle): void {
    const rt = this.#runtimes.get(port);
    const events =
      channels.connectionOpen.hasSubscribers || channels.connectionClose.hasSubscribers;
    const clientText = events && this.clientAddresses ? peerText(client) : "";
    if (rt === undefined) {
      if (client.reset(onClientClosed) !== 0) client.close(); // the rule went away meanwhile
      return;
    }
    if (!this.#limit.acquire()) {
      this.#refusedAtLimit += 1;
      if (client.reset(onClientClosed) !== 0) client.close();
      if (events) this.#publishRefused(rt, clientText);
      return;
    }
    rt.hits += 1;
    this.clock.now = Date.now();
    const c = new Connection(this, rt, client, clientText);
    this.#connections.add(c);
    if (events) {
      publishConnectionOpen({ mode: "dns-proxy", listener: rt.listener, client: clientText });
    }
    const pool = this.#pools.pool(rt.key);
    if (pool === undefined) {
      c.dialed({ ...this.#pools.emptyReason(rt.key), attempts: 0 });
      return;
    }
    const dial = dialPool(pool, rt.dial, (failure, handle, u) => {
      c.dialed(failure, handle, u);
    });
    // A dial with no usable address has already failed (synchronously) by now.
    if (!c.finished && c.splice === undefined) c.dial = dial;
  }

  #publishRefused(rt: RuleRuntime, clientText: string): void {
    publishConnectionOpen({ mode: "dns-proxy", listener: rt.listener, client: clientText });
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

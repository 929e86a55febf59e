// The forwarding work of one thread: a listener per rule and listen address, and for each
// accepted connection: limit check → pick an address → connect (with failover) → tunnel.
// Which pool a rule uses, and the health of its addresses, comes from a PoolSource (the
// main thread's directory, or a worker's mirror of it).
import net from "node:net";
import type { CloseReason, UpstreamErrorKind } from "../observe/events.ts";
import { channels, publishConnectionClose, publishConnectionOpen } from "../observe/events.ts";
import { publishConnectLatency } from "../observe/events.ts";
import type { Tunnel, TunnelResult } from "../net/tunnel.ts";
import { startTunnel } from "../net/tunnel.ts";
import type { ConnectionLimit } from "./connection-limit.ts";
import type { Dial, DialFailure, DialOptions } from "./dial.ts";
import { dialPool } from "./dial.ts";
import type { ForwardOptions, ForwardRule } from "./forward-config.ts";
import { destinationText, targetKey } from "./forward-config.ts";
import { bindListener, type Listener } from "./listener.ts";
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
  readonly dial: DialOptions;
  hits: number;
}

export interface EngineStats {
  readonly listeners: { readonly address: string; readonly port: number; readonly up: boolean }[];
  readonly active: number;
  readonly refusedAtLimit: number;
  readonly rules: { readonly port: number; readonly hits: number; readonly active: number }[];
}

const wantEvents = (): boolean =>
  channels.connectionOpen.hasSubscribers || channels.connectionClose.hasSubscribers;

function ignore(): void {}

/** "ip:port", IPv6 in brackets; IPv4 clients of a dual-stack listener without "::ffff:". */
export function endpointText(address: string | undefined, port: number | undefined): string {
  if (address === undefined) return "";
  const a =
    address.startsWith("::ffff:") && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
  return a.includes(":") ? `[${a}]:${port ?? 0}` : `${a}:${port ?? 0}`;
}

class Connection {
  readonly engine: ForwardEngine;
  readonly rt: RuleRuntime;
  readonly client: net.Socket;
  readonly clientText: string;
  readonly startedAt: number;
  upstream: Upstream | undefined;
  tunnel: Tunnel | undefined;
  dial: Dial | undefined;
  finished = false;

  constructor(engine: ForwardEngine, rt: RuleRuntime, client: net.Socket, clientText: string) {
    this.engine = engine;
    this.rt = rt;
    this.client = client;
    this.clientText = clientText;
    this.startedAt = performance.now();
  }

  dialed(failure: DialFailure | undefined, socket?: net.Socket, u?: Upstream): void {
    this.dial = undefined;
    if (failure !== undefined || socket === undefined || u === undefined) {
      // Nothing to forward to: a reset tells the client at once (no hang, no fake EOF).
      this.client.resetAndDestroy();
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
    this.tunnel = startTunnel(
      this.client,
      socket,
      { idleTimeoutMs: this.rt.rule.idleTimeoutMs, keepAliveMs: this.engine.options.keepAliveMs },
      (r: TunnelResult) => {
        u.active -= 1;
        this.end(r.end, r.bytesFromClient, r.bytesToClient);
      },
    );
  }

  close(reason: CloseReason): void {
    if (this.tunnel) {
      this.tunnel.close(reason);
      return;
    }
    this.dial?.cancel();
    this.dial = undefined;
    this.client.resetAndDestroy();
    this.end(reason, 0, 0);
  }

  end(reason: CloseReason, fromClient: number, toClient: number): void {
    if (this.finished) return;
    this.finished = true;
    this.engine.connectionEnded(this);
    if (!channels.connectionClose.hasSubscribers) return;
    publishConnectionClose({
      mode: "dns-proxy",
      listener: String(this.rt.rule.localPort),
      client: this.clientText,
      destination: destinationText(this.rt.rule),
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
  readonly #pools: PoolSource;
  readonly #limit: ConnectionLimit;
  readonly #reusePort: boolean;
  readonly #listeners = new Map<string, Listener>();
  readonly #runtimes = new Map<number, RuleRuntime>();
  readonly #connections = new Set<Connection>();
  #idleWaiters: (() => void)[] = [];
  #refusedAtLimit = 0;

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
  async apply(rules: readonly ForwardRule[]): Promise<void> {
    const wanted = new Map<string, { address: string; port: number; line: number }>();
    for (const r of rules) {
      for (const address of this.options.listenAddresses) {
        wanted.set(`${address}|${r.localPort}`, { address, port: r.localPort, line: r.line });
      }
    }
    const opened: [string, Listener][] = [];
    const failures: string[] = [];
    await Promise.all(
      [...wanted].map(async ([id, w]) => {
        if (this.#listeners.has(id)) return;
        try {
          const l = await bindListener(w.address, w.port, this.options, {
            reusePort: this.#reusePort,
            ipv6Only: this.options.listenAddresses.some((a) => net.isIPv4(a)),
            onConnection: (socket) => {
              this.#accept(w.port, socket);
            },
          });
          opened.push([id, l]);
        } catch (err) {
          failures.push(`line ${w.line}: ${(err as Error).message}`);
        }
      }),
    );
    if (failures.length > 0) {
      await Promise.all(opened.map(([, l]) => l.close()));
      throw new Error(failures.sort().join("; "));
    }
    for (const [id, l] of opened) this.#listeners.set(id, l);
    const runtimes = new Map<number, RuleRuntime>();
    for (const rule of rules) {
      const old = this.#runtimes.get(rule.localPort);
      const same = old !== undefined && old.rule.text === rule.text;
      runtimes.set(rule.localPort, {
        rule,
        key: targetKey(rule),
        dial: this.#dialOptions(rule),
        hits: same ? old.hits : 0,
      });
    }
    this.#runtimes.clear();
    for (const [port, rt] of runtimes) this.#runtimes.set(port, rt);
    await Promise.all(
      [...this.#listeners]
        .filter(([id]) => !wanted.has(id))
        .map(([id, l]) => {
          this.#listeners.delete(id);
          return l.close();
        }),
    );
  }

  /** Stops accepting on every port; open connections carry on. */
  async stopAccepting(): Promise<void> {
    const all = [...this.#listeners.values()];
    this.#listeners.clear();
    await Promise.all(all.map((l) => l.close()));
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
    };
  }

  connectionEnded(c: Connection): void {
    this.#connections.delete(c);
    this.#limit.release();
    if (this.#connections.size === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  #dialOptions(rule: ForwardRule): DialOptions {
    const key = targetKey(rule);
    const o = this.options;
    return {
      connectTimeoutMs: o.connectTimeoutMs,
      retries: o.retries,
      keepAliveMs: o.keepAliveMs,
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

  #accept(port: number, client: net.Socket): void {
    client.on("error", ignore); // the tunnel adds its own; before it, errors end in a reset
    const rt = this.#runtimes.get(port);
    const events = wantEvents();
    const clientText = events ? endpointText(client.remoteAddress, client.remotePort) : "";
    if (rt === undefined) {
      client.resetAndDestroy(); // the rule went away while the port was closing
      return;
    }
    if (!this.#limit.acquire()) {
      this.#refusedAtLimit += 1;
      client.resetAndDestroy();
      if (events) this.#publishRefused(rt, clientText);
      return;
    }
    rt.hits += 1;
    const c = new Connection(this, rt, client, clientText);
    this.#connections.add(c);
    if (events) {
      publishConnectionOpen({ mode: "dns-proxy", listener: String(port), client: clientText });
    }
    const pool = this.#pools.pool(rt.key);
    if (pool === undefined) {
      c.dialed({ ...this.#pools.emptyReason(rt.key), attempts: 0 });
      return;
    }
    const dial = dialPool(pool, rt.dial, (failure, socket, u) => {
      c.dialed(failure, socket, u);
    });
    // A dial with no usable address has already failed (synchronously) by now.
    if (!c.finished && c.tunnel === undefined) c.dial = dial;
  }

  #publishRefused(rt: RuleRuntime, clientText: string): void {
    const listener = String(rt.rule.localPort);
    publishConnectionOpen({ mode: "dns-proxy", listener, client: clientText });
    publishConnectionClose({
      mode: "dns-proxy",
      listener,
      client: clientText,
      destination: destinationText(rt.rule),
      address: undefined,
      ruleLine: rt.rule.line,
      bytesFromClient: 0,
      bytesToClient: 0,
      durationMs: 0,
      end: "limit",
    });
  }
}

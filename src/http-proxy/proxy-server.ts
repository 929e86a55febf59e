// createHttpProxy: one listening socket and everything behind it, on this thread. The
// service with one worker thread per core (SO_REUSEPORT) is built on top of it. Sockets are
// Node's TCP handles driven directly (net/raw-socket.ts), not net.Socket.
import { isIP } from "node:net";
import type { AddressInfo } from "node:net";
import { listenHandle, errorName, type TcpHandle } from "../net/raw-tcp.ts";
import { RawSocket, type SocketHandlers } from "../net/raw-socket.ts";
import type { HttpPolicy } from "../policy/http-policy.ts";
import { ClientConnection } from "./client-connection.ts";
import { localConnectionCount } from "./connection-count.ts";
import {
  newPolicyState,
  type HttpProxyOptions,
  type PolicyState,
  type ProxyContext,
} from "./proxy-context.ts";
import { channels, publishConnectionClose, publishConnectionOpen } from "../observe/events.ts";
import { renderReject } from "./reject.ts";
import { UpstreamPool } from "./upstream-pool.ts";

export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  /** share the port with other threads or processes (the kernel spreads connections) */
  readonly reusePort: boolean;
}

export interface ProxyStats {
  readonly activeConnections: number;
  /** client connections holding a request parser (the others are idle or tunnels) */
  readonly readingConnections: number;
  readonly tunnels: number;
  readonly idleUpstreams: number;
  readonly requests: number;
  readonly tunnelsOpened: number;
  readonly denied: number;
  readonly audited: number;
  readonly rejected: number;
  /** connections answered 503 at the connection limit */
  readonly refusedAtLimit: number;
  /** generation of the policy the counters below belong to */
  readonly generation: number;
  /** decisions per rule line index, plus "no rule" last */
  readonly hits: readonly number[];
}

export interface HttpProxy {
  listen(options: ListenOptions): Promise<AddressInfo>;
  /** New requests and tunnels use it; those in flight keep the policy they started with. */
  setPolicy(policy: HttpPolicy): void;
  /** Stops accepting, lets open requests finish for up to `drainMs`, then cuts the rest. */
  close(drainMs: number): Promise<void>;
  stats(): ProxyStats;
}

/** The sweeper runs often enough for the shortest timeout to be kept within a quarter of
 * itself, at most once a second, at least every 50 ms. */
function sweepInterval(o: HttpProxyOptions): number {
  const shortest = Math.min(o.headerTimeoutMs, o.keepAliveTimeoutMs, o.idleTimeoutMs);
  return Math.min(1_000, Math.max(50, Math.floor(shortest / 4)));
}

/** A listen failure as node's net module reports it (`code` is what callers look at). */
function listenError(code: number, host: string, port: number): NodeJS.ErrnoException {
  const name = errorName(code);
  const err: NodeJS.ErrnoException = new Error(`listen ${name}: ${host}:${port}`);
  err.code = name;
  err.errno = code;
  err.syscall = "listen";
  return err;
}

export function createHttpProxy(options: HttpProxyOptions): HttpProxy {
  let generation = 1;
  const ctx: ProxyContext = {
    options,
    policy: newPolicyState(options.policy, generation),
    pool: new UpstreamPool(),
    connections: new Set(),
    connectionCount: options.connectionCount ?? localConnectionCount(),
    clock: { now: Date.now() },
    draining: false,
    totals: { requests: 0, tunnels: 0, denied: 0, audited: 0, rejected: 0, refusedAtLimit: 0 },
  };
  /** over-limit connections being told so; they are not counted as connections */
  const refused = new Set<RawSocket>();
  let server: TcpHandle | undefined;

  const onConnection = (status: number, handle: TcpHandle | undefined) => {
    // Accept errors (EMFILE…) must not stop the listener; it keeps serving.
    if (status !== 0 || handle === undefined) return;
    if (ctx.draining) {
      handle.close();
      return;
    }
    if (!ctx.connectionCount.tryOpen(options.maxConnections)) {
      ctx.totals.refusedAtLimit++;
      refuseOverLimit(handle, options.maxConnections, refused, options.listenerName);
      return;
    }
    new ClientConnection(handle, ctx);
  };

  // Activity is stamped with the coarse clock, which may be up to a tick behind the event, so
  // the timeouts are judged a tick later: never early, at most two ticks late. (Judged at
  // `now`, a 30 s head timeout could answer 408 "not complete after 30 s" at 29 s.) The pool
  // is swept at `now`: its idle limit must stay below the servers' own.
  const tick = sweepInterval(options);
  const sweeper = setInterval(() => {
    const now = Date.now();
    ctx.clock.now = now;
    const due = now - tick;
    for (const c of ctx.connections) c.checkTimers(due);
    ctx.pool.sweep(now);
  }, tick);
  sweeper.unref();

  let closing: Promise<void> | undefined;

  return {
    listen(l) {
      const family = isIP(l.host) === 6 ? 6 : 4;
      const h = listenHandle(l.host, l.port, family, {
        reusePort: l.reusePort,
        ipv6Only: false,
        backlog: 4096,
      });
      if (typeof h === "number") return Promise.reject(listenError(h, l.host, l.port));
      // Accepted sockets inherit no-delay from the listening one (Linux): no call per connection.
      h.setNoDelay(true);
      h.onconnection = onConnection;
      server = h;
      const out: { address?: string; port?: number; family?: string } = {};
      h.getsockname(out);
      return Promise.resolve({
        address: out.address ?? l.host,
        port: out.port ?? l.port,
        family: out.family ?? (family === 6 ? "IPv6" : "IPv4"),
      });
    },
    setPolicy(policy) {
      generation++;
      const next: PolicyState = newPolicyState(policy, generation);
      ctx.policy = next;
      ctx.pool.dropOtherGenerations(generation);
    },
    close(drainMs) {
      closing ??= drain(ctx, server, sweeper, drainMs).then(() => {
        for (const s of refused) s.destroy();
      });
      return closing;
    },
    stats() {
      let tunnels = 0;
      let reading = 0;
      for (const c of ctx.connections) {
        if (c.tunnel !== undefined) tunnels++;
        if (c.parser !== undefined) reading++;
      }
      return {
        activeConnections: ctx.connections.size,
        readingConnections: reading,
        tunnels,
        idleUpstreams: ctx.pool.idleCount,
        requests: ctx.totals.requests,
        tunnelsOpened: ctx.totals.tunnels,
        denied: ctx.totals.denied,
        audited: ctx.totals.audited,
        rejected: ctx.totals.rejected,
        refusedAtLimit: ctx.totals.refusedAtLimit,
        generation: ctx.policy.generation,
        hits: Array.from(ctx.policy.hits),
      };
    },
  };
}

const refusedHandlers: SocketHandlers = {
  data() {},
  end() {
    this.destroy();
  },
  drain() {},
  error() {},
  close() {
    (this.owner as Set<RawSocket>).delete(this);
  },
};

function refuseOverLimit(
  handle: TcpHandle,
  max: number,
  refused: Set<RawSocket>,
  listener: string,
): void {
  const s = new RawSocket(handle, refusedHandlers, refused);
  refused.add(s);
  const answer = renderReject({
    status: 503,
    message: `Cannot accept the connection: ${max} connections are open (EGRESS_HTTP_PROXY_MAX_CONNECTIONS); retry later`,
  });
  s.write(answer, "utf8");
  // Said and counted as the DNS proxy does (end "limit"): the limit being hit must show.
  if (channels.connectionClose.hasSubscribers) {
    const client = s.peerText();
    publishConnectionOpen({ mode: "http-proxy", listener, client });
    publishConnectionClose({
      mode: "http-proxy",
      listener,
      client,
      destination: undefined,
      address: undefined,
      ruleLine: undefined,
      bytesFromClient: 0,
      bytesToClient: Buffer.byteLength(answer),
      durationMs: 0,
      end: "limit",
      status: 503,
    });
  }
  s.end();
  s.resume(); // read (and drop) until the client closes
  setTimeout(() => s.destroy(), 2_000).unref();
}

async function drain(
  ctx: ProxyContext,
  server: TcpHandle | undefined,
  sweeper: NodeJS.Timeout,
  drainMs: number,
): Promise<void> {
  ctx.draining = true;
  server?.close();
  for (const c of ctx.connections) c.drain();
  ctx.pool.closeAll();
  const deadline = Date.now() + drainMs;
  while (ctx.connections.size > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
    ctx.clock.now = Date.now();
  }
  for (const c of ctx.connections) c.drainTimeUp();
  // Handles close asynchronously; give them a moment so their close events are published.
  const until = Date.now() + 1_000;
  while (ctx.connections.size > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
  }
  clearInterval(sweeper);
  ctx.pool.closeAll();
}

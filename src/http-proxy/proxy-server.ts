// createHttpProxy: one listening socket and everything behind it, in this process. The
// multi-process service (one of these per core, SO_REUSEPORT) is built on top of it.
import net from "node:net";
import type { AddressInfo } from "node:net";
import type { HttpPolicy } from "../policy/http-policy.ts";
import { ClientConnection } from "./client-connection.ts";
import { localConnectionCount } from "./connection-count.ts";
import {
  newPolicyState,
  type HttpProxyOptions,
  type PolicyState,
  type ProxyContext,
} from "./proxy-context.ts";
import { renderReject } from "./reject.ts";
import { UpstreamPool } from "./upstream-pool.ts";

export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  /** share the port with other processes (the kernel spreads connections across them) */
  readonly reusePort: boolean;
}

export interface ProxyStats {
  readonly activeConnections: number;
  readonly tunnels: number;
  readonly idleUpstreams: number;
  readonly requests: number;
  readonly tunnelsOpened: number;
  readonly denied: number;
  readonly audited: number;
  readonly rejected: number;
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

export function createHttpProxy(options: HttpProxyOptions): HttpProxy {
  let generation = 1;
  const ctx: ProxyContext = {
    options,
    policy: newPolicyState(options.policy, generation),
    pool: new UpstreamPool(),
    connections: new Set(),
    connectionCount: options.connectionCount ?? localConnectionCount(),
    clock: Date.now(),
    draining: false,
    totals: { requests: 0, tunnels: 0, denied: 0, audited: 0, rejected: 0 },
  };
  /** over-limit connections being told so; they are not counted as connections */
  const refused = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false });
  server.on("connection", (socket: net.Socket) => {
    if (ctx.draining) {
      socket.destroy();
      return;
    }
    if (!ctx.connectionCount.tryOpen(options.maxConnections)) {
      refuseOverLimit(socket, options.maxConnections, refused);
      return;
    }
    new ClientConnection(socket, ctx);
  });
  // Accept errors (EMFILE…) must not kill the process; the listener keeps serving.
  server.on("error", () => {});

  const sweeper = setInterval(() => {
    const now = Date.now();
    ctx.clock = now;
    for (const c of ctx.connections) c.checkTimers(now);
  }, sweepInterval(options));
  sweeper.unref();

  let closing: Promise<void> | undefined;

  return {
    listen(l) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once("error", onError);
        server.listen({ host: l.host, port: l.port, reusePort: l.reusePort, backlog: 4096 }, () => {
          server.removeListener("error", onError);
          resolve(server.address() as AddressInfo);
        });
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
      for (const c of ctx.connections) if (c.tunnel !== undefined) tunnels++;
      return {
        activeConnections: ctx.connections.size,
        tunnels,
        idleUpstreams: ctx.pool.idleCount,
        requests: ctx.totals.requests,
        tunnelsOpened: ctx.totals.tunnels,
        denied: ctx.totals.denied,
        audited: ctx.totals.audited,
        rejected: ctx.totals.rejected,
        generation: ctx.policy.generation,
        hits: Array.from(ctx.policy.hits),
      };
    },
  };
}

function refuseOverLimit(socket: net.Socket, max: number, refused: Set<net.Socket>): void {
  refused.add(socket);
  socket.on("close", () => refused.delete(socket));
  socket.on("error", () => {});
  socket.end(
    renderReject({
      status: 503,
      message: `Cannot accept the connection: ${max} connections are open (EGRESS_HTTP_PROXY_MAX_CONNECTIONS); retry later`,
    }),
  );
  setTimeout(() => socket.destroy(), 2_000).unref();
}

async function drain(
  ctx: ProxyContext,
  server: net.Server,
  sweeper: NodeJS.Timeout,
  drainMs: number,
): Promise<void> {
  ctx.draining = true;
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const c of ctx.connections) c.drain();
  ctx.pool.closeAll();
  const deadline = Date.now() + drainMs;
  while (ctx.connections.size > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
  }
  for (const c of ctx.connections) c.abort("drain");
  // Sockets close asynchronously; give them a moment so their close events are published.
  const until = Date.now() + 1_000;
  while (ctx.connections.size > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
  }
  clearInterval(sweeper);
  ctx.pool.closeAll();
  await Promise.race([stopped, new Promise((r) => setTimeout(r, 100))]);
}

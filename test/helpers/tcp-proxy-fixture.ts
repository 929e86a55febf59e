// Starts the DNS (TCP) proxy service on loopback for a test, with echo backends on loopback
// addresses (127.0.0.2, 127.0.0.3, … are all on `lo`), and records the data-path events.
import diagnostics_channel from "node:diagnostics_channel";
import type { TestContext } from "node:test";
import type { ConnectionCloseEvent, UpstreamErrorEvent } from "../../src/observe/events.ts";
import type {
  ForwardOptions,
  ForwardRule,
  ForwardTarget,
} from "../../src/tcp-proxy/forward-config.ts";
import { defaultForwardOptions } from "../../src/tcp-proxy/forward-config.ts";
import type { TcpProxyService } from "../../src/tcp-proxy/tcp-proxy-service.ts";
import { createTcpProxyService } from "../../src/tcp-proxy/tcp-proxy-service.ts";
import { freeTcpPort } from "./ports.ts";
import { echo, startServer } from "./tcp-peers.ts";
import type net from "node:net";

/** Test defaults: quick timers, loopback only, one thread. */
export const testOptions: ForwardOptions = {
  ...defaultForwardOptions,
  listenAddresses: ["::"],
  connectTimeoutMs: 2000,
  healthCheck: { ...defaultForwardOptions.healthCheck, intervalMs: 0 },
  resolver: { ...defaultForwardOptions.resolver, minTtlMs: 100, queryTimeoutMs: 500 },
  threads: 1,
};

export function rule(
  line: number,
  localPort: number,
  target: string,
  remotePort: number,
  idleTimeoutMs = 0,
): ForwardRule {
  const t: ForwardTarget = /^[\d.]+$/.test(target)
    ? { kind: "address", address: target, family: 4 }
    : target.includes(":")
      ? { kind: "address", address: target, family: 6 }
      : { kind: "name", name: target };
  return {
    line,
    text: `${localPort} ${target} ${remotePort}`,
    localPort,
    target: t,
    remotePort,
    idleTimeoutMs,
  };
}

export interface Events {
  readonly closes: ConnectionCloseEvent[];
  readonly upstreamErrors: UpstreamErrorEvent[];
}

/** Records connection-close and upstream-error events until the test ends. */
export function recordEvents(t: TestContext): Events {
  const closes: ConnectionCloseEvent[] = [];
  const upstreamErrors: UpstreamErrorEvent[] = [];
  const onClose = (m: unknown): void => {
    closes.push(m as ConnectionCloseEvent);
  };
  const onError = (m: unknown): void => {
    upstreamErrors.push(m as UpstreamErrorEvent);
  };
  diagnostics_channel.subscribe("egress-router:connection-close", onClose);
  diagnostics_channel.subscribe("egress-router:upstream-error", onError);
  t.after(() => {
    diagnostics_channel.unsubscribe("egress-router:connection-close", onClose);
    diagnostics_channel.unsubscribe("egress-router:upstream-error", onError);
  });
  return { closes, upstreamErrors };
}

export async function startProxy(
  t: TestContext,
  rules: readonly ForwardRule[],
  options: Partial<ForwardOptions> = {},
): Promise<TcpProxyService> {
  const service = createTcpProxyService({ rules, options: { ...testOptions, ...options } });
  t.after(() => service.stop(0));
  await service.start();
  return service;
}

export interface Backend {
  readonly host: string;
  readonly port: number;
  readonly server: net.Server;
  /** connections accepted so far */
  accepted: number;
  /** connections that carried data (health checks connect and close without data) */
  served: number;
  /** stops listening and resets its open connections */
  kill(): void;
}

/** An echo server on `host` (a loopback address) and `port` (0: any free port). */
export async function startBackend(t: TestContext, host: string, port = 0): Promise<Backend> {
  const b = { accepted: 0, served: 0 } as Backend;
  const s = await startServer(
    t,
    (socket) => {
      b.accepted += 1;
      socket.once("data", () => {
        b.served += 1;
      });
      echo(socket);
    },
    host,
    port,
  );
  return Object.assign(b, {
    host,
    port: s.port,
    server: s.server,
    kill() {
      s.server.close();
      for (const c of s.sockets) c.resetAndDestroy();
    },
  });
}

/**
 * Echo servers on the same port of several loopback addresses (a name's addresses share
 * the rule's port). Another test may hold that port on one of the addresses: then it
 * tries another port.
 */
export async function startBackends(t: TestContext, hosts: readonly string[]): Promise<Backend[]> {
  for (let attempt = 0; ; attempt++) {
    const first = await startBackend(t, hosts[0] ?? "127.0.0.2");
    const rest: Backend[] = [];
    try {
      for (const h of hosts.slice(1)) rest.push(await startBackend(t, h, first.port));
      return [first, ...rest];
    } catch (err) {
      for (const b of [first, ...rest]) b.kill();
      if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 20) throw err;
    }
  }
}

export { freeTcpPort };

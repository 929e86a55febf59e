// Connects to a target through its pool: picks an address, connects with a timeout, and on
// failure marks that address down (with backoff) and tries another, up to 1 + retries
// attempts on distinct addresses. When no address is usable it fails at once: the client
// is not kept waiting for a destination that is down.
import net from "node:net";
import type { UpstreamErrorKind } from "../observe/events.ts";
import { publishUpstreamError, publishUpstreamHealth } from "../observe/events.ts";
import type { Upstream, UpstreamPool } from "./upstream-pool.ts";

export interface DialOptions {
  readonly connectTimeoutMs: number;
  readonly retries: number;
  readonly keepAliveMs: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  /** the target as configured, for events */
  readonly destination: string;
  /** why the pool has no address, when it has none (e.g. the DNS failure) */
  readonly emptyReason: () => { kind: UpstreamErrorKind; message: string };
  /** an address was marked down (tell the other threads) */
  readonly onFailed: (u: Upstream) => void;
  /** an address that was down connected (tell the other threads) */
  readonly onUp: (u: Upstream) => void;
}

export interface DialFailure {
  readonly kind: UpstreamErrorKind;
  readonly message: string;
  readonly attempts: number;
}

export interface Dial {
  /** Gives up: closes the attempt in progress; `done` is not called. */
  cancel(): void;
}

const connectErrorKinds: Readonly<Record<string, UpstreamErrorKind>> = {
  ECONNREFUSED: "refused",
  ETIMEDOUT: "timeout",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  EADDRNOTAVAIL: "unreachable",
  EHOSTDOWN: "unreachable",
  ENETDOWN: "unreachable",
  ECONNRESET: "reset",
  EPIPE: "reset",
};

export function classifyConnectError(err: NodeJS.ErrnoException): UpstreamErrorKind {
  return connectErrorKinds[err.code ?? ""] ?? "other";
}

export function dialPool(
  pool: UpstreamPool,
  options: DialOptions,
  done: (failure: DialFailure | undefined, socket?: net.Socket, upstream?: Upstream) => void,
): Dial {
  const tried: Upstream[] = [];
  let current: net.Socket | undefined;
  let cancelled = false;
  let last: { kind: UpstreamErrorKind; message: string } | undefined;

  const attempt = (): void => {
    const now = Date.now();
    const u = tried.length <= options.retries ? pool.pick(tried, now) : undefined;
    if (u === undefined) {
      const f =
        tried.length > 0 && last !== undefined
          ? last
          : pool.upstreams.length === 0
            ? options.emptyReason()
            : {
                kind: "no-address" as const,
                message: `every address of ${options.destination} is down (${pool.upstreams.length} known)`,
              };
      if (tried.length === 0) {
        publishUpstreamError({
          mode: "dns-proxy",
          destination: options.destination,
          address: undefined,
          kind: f.kind,
          message: f.message,
        });
      }
      done({ kind: f.kind, message: f.message, attempts: tried.length });
      return;
    }
    tried.push(u);
    const socket = net.connect({
      host: u.address,
      port: pool.port,
      family: u.family,
      allowHalfOpen: true,
      noDelay: true,
      keepAlive: options.keepAliveMs > 0,
      keepAliveInitialDelay: options.keepAliveMs,
    });
    current = socket;
    socket.setTimeout(options.connectTimeoutMs);
    const fail = (kind: UpstreamErrorKind, message: string): void => {
      socket.removeAllListeners("connect");
      socket.removeAllListeners("timeout");
      socket.on("error", ignore);
      socket.destroy();
      current = undefined;
      if (cancelled) return;
      last = { kind, message: `${u.address} port ${pool.port}: ${message}` };
      publishUpstreamError({
        mode: "dns-proxy",
        destination: options.destination,
        address: u.address,
        kind,
        message: last.message,
      });
      if (pool.markFailed(u, Date.now(), message, options.backoffMinMs, options.backoffMaxMs)) {
        publishUpstreamHealth({
          mode: "dns-proxy",
          destination: options.destination,
          address: u.address,
          up: false,
          cause: "connect",
          error: kind,
          retryAt: u.downUntil,
        });
        options.onFailed(u);
      }
      attempt();
    };
    socket.once("error", (err: NodeJS.ErrnoException) => {
      fail(classifyConnectError(err), err.code ?? err.message);
    });
    socket.once("timeout", () => {
      fail("timeout", `no answer within ${options.connectTimeoutMs} ms`);
    });
    socket.once("connect", () => {
      socket.setTimeout(0);
      socket.removeAllListeners("timeout");
      socket.removeAllListeners("error");
      socket.on("error", ignore); // from here the caller's handlers decide
      current = undefined;
      if (pool.markUp(u)) {
        options.onUp(u);
        publishUpstreamHealth({
          mode: "dns-proxy",
          destination: options.destination,
          address: u.address,
          up: true,
          cause: "connect",
          error: undefined,
          retryAt: undefined,
        });
      }
      done(undefined, socket, u);
    });
  };

  attempt();
  return {
    cancel() {
      cancelled = true;
      if (current) {
        current.on("error", ignore);
        current.destroy();
        current = undefined;
      }
    },
  };
}

function ignore(): void {}

// Connects to a target through its pool: picks an address, connects with a timeout, and on
// failure marks that address down (with backoff) and tries another, up to 1 + retries
// attempts on distinct addresses. When no address is usable it fails at once: the client
// is not kept waiting for a destination that is down.
import type { UpstreamErrorKind } from "../observe/events.ts";
import { publishUpstreamError, publishUpstreamHealth } from "../observe/events.ts";
import type { ConnectReq, TcpHandle } from "../net/raw-tcp.ts";
import { TCP, connectHandle, connectRequest, errorName, tcpConstants } from "../net/raw-tcp.ts";
import type { Upstream, UpstreamPool } from "./upstream-pool.ts";

export interface DialOptions {
  readonly connectTimeoutMs: number;
  readonly retries: number;
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

export type DialDone = (
  failure: DialFailure | undefined,
  handle: TcpHandle | undefined,
  upstream: Upstream | undefined,
) => void;

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

/** The kind of a connect error from its name ("ECONNREFUSED" → "refused"). */
export function classifyConnectError(code: string | undefined): UpstreamErrorKind {
  return connectErrorKinds[code ?? ""] ?? "other";
}

type AttemptReq = ConnectReq & { dial?: PoolDial };

function onConnected(status: number, _handle: TcpHandle, req: AttemptReq): void {
  const d = req.dial;
  req.dial = undefined;
  if (d === undefined || d.req !== req) return; // cancelled or timed out: already handled
  d.connected(status);
}

class PoolDial implements Dial {
  readonly pool: UpstreamPool;
  readonly options: DialOptions;
  readonly done: DialDone;
  readonly tried: Upstream[] = [];
  handle: TcpHandle | undefined;
  req: AttemptReq | undefined;
  timer: NodeJS.Timeout | undefined;
  current: Upstream | undefined;
  last: { kind: UpstreamErrorKind; message: string } | undefined;
  cancelled = false;

  constructor(pool: UpstreamPool, options: DialOptions, done: DialDone) {
    this.pool = pool;
    this.options = options;
    this.done = done;
  }

  cancel(): void {
    this.cancelled = true;
    this.drop();
  }

  /** Abandons the attempt in progress (its completion, if any, is ignored). */
  drop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.req) this.req.dial = undefined;
    this.req = undefined;
    this.handle?.close();
    this.handle = undefined;
  }

  attempt(): void {
    const o = this.options;
    const u = this.tried.length <= o.retries ? this.pool.pick(this.tried, Date.now()) : undefined;
    if (u === undefined) {
      this.giveUp();
      return;
    }
    this.tried.push(u);
    this.current = u;
    const h = new TCP(tcpConstants.SOCKET);
    const req: AttemptReq = connectRequest(onConnected);
    const err = connectHandle(h, req, u.address, this.pool.port, u.family);
    if (err !== 0) {
      h.close();
      this.failed(u, errorName(err));
      return;
    }
    req.dial = this;
    this.handle = h;
    this.req = req;
    this.timer = setTimeout(() => {
      this.drop();
      this.failed(u, "ETIMEDOUT", `no answer within ${o.connectTimeoutMs} ms`);
    }, o.connectTimeoutMs);
  }

  connected(status: number): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const h = this.handle;
    const u = this.current;
    this.req = undefined;
    this.handle = undefined;
    if (h === undefined || u === undefined) return;
    if (status !== 0) {
      h.close();
      this.failed(u, errorName(status));
      return;
    }
    if (this.pool.markUp(u)) {
      this.options.onUp(u);
      publishUpstreamHealth({
        mode: "dns-proxy",
        destination: this.options.destination,
        address: u.address,
        up: true,
        cause: "connect",
        error: undefined,
        retryAt: undefined,
      });
    }
    this.done(undefined, h, u);
  }

  failed(u: Upstream, code: string, text?: string): void {
    if (this.cancelled) return;
    const o = this.options;
    const kind = classifyConnectError(code);
    const message = `${u.address} port ${this.pool.port}: ${text ?? code}`;
    this.last = { kind, message };
    publishUpstreamError({
      mode: "dns-proxy",
      destination: o.destination,
      address: u.address,
      kind,
      message,
    });
    if (this.pool.markFailed(u, Date.now(), code, o.backoffMinMs, o.backoffMaxMs)) {
      publishUpstreamHealth({
        mode: "dns-proxy",
        destination: o.destination,
        address: u.address,
        up: false,
        cause: "connect",
        error: kind,
        retryAt: u.downUntil,
      });
      o.onFailed(u);
    }
    this.attempt();
  }

  giveUp(): void {
    const o = this.options;
    const f =
      this.tried.length > 0 && this.last !== undefined
        ? this.last
        : this.pool.upstreams.length === 0
          ? o.emptyReason()
          : {
              kind: "no-address" as const,
              message: `every address of ${o.destination} is down (${this.pool.upstreams.length} known)`,
            };
    if (this.tried.length === 0) {
      publishUpstreamError({
        mode: "dns-proxy",
        destination: o.destination,
        address: undefined,
        kind: f.kind,
        message: f.message,
      });
    }
    this.done(
      { kind: f.kind, message: f.message, attempts: this.tried.length },
      undefined,
      undefined,
    );
  }
}

/**
 * Dials the pool: `done` is called once, with the connected handle and its address, or
 * with why no connection could be made. May call `done` before returning (nothing usable).
 */
export function dialPool(pool: UpstreamPool, options: DialOptions, done: DialDone): Dial {
  const d = new PoolDial(pool, options, done);
  d.attempt();
  return d;
}

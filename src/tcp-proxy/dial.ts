// Connects to a target through its pool: picks an address, connects with a timeout, and on
// failure marks that address down (with backoff) and tries another, up to 1 + retries
// attempts on distinct addresses. When no address is usable it fails at once: the client
// is not kept waiting for a destination that is down.
//
// The connect timeout has no timer of its own: the owner's sweeper, which ticks anyway for
// idle timeouts, calls checkTimeout() (see ForwardEngine). A dial allocates one object and
// the connect request; the list of addresses tried only exists once a second one is tried.
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
  /** every failed connect and every dial that found no address, as published (metrics) */
  readonly onError?: (kind: UpstreamErrorKind) => void;
}

export interface DialFailure {
  readonly kind: UpstreamErrorKind;
  readonly message: string;
  readonly attempts: number;
}

/** Told once how a dial ended: the connected handle and its address, or why not. */
export interface DialOwner {
  dialed(
    failure: DialFailure | undefined,
    handle: TcpHandle | undefined,
    upstream: Upstream | undefined,
  ): void;
}

export interface Dial {
  /** Gives up: closes the attempt in progress; the owner is not told. */
  cancel(): void;
  /**
   * Fails the attempt in progress if it started `connectTimeoutMs` or more before `now`
   * (ms since the epoch), and moves on to the next address.
   */
  checkTimeout(now: number): void;
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

const noneTried: readonly Upstream[] = [];

class PoolDial implements Dial {
  readonly pool: UpstreamPool;
  readonly options: DialOptions;
  readonly owner: DialOwner;
  /** the addresses tried before the current one (a list only from the second attempt) */
  tried: Upstream[] | undefined;
  attempts = 0;
  handle: TcpHandle | undefined;
  req: AttemptReq | undefined;
  /** when the attempt in progress started (ms since the epoch) */
  startedAt = 0;
  current: Upstream | undefined;
  last: { kind: UpstreamErrorKind; message: string } | undefined;
  cancelled = false;

  constructor(pool: UpstreamPool, options: DialOptions, owner: DialOwner) {
    this.pool = pool;
    this.options = options;
    this.owner = owner;
  }

  cancel(): void {
    this.cancelled = true;
    this.drop();
  }

  checkTimeout(now: number): void {
    const u = this.current;
    if (this.req === undefined || u === undefined) return;
    const o = this.options;
    if (now - this.startedAt < o.connectTimeoutMs) return;
    this.drop();
    this.failed(u, "ETIMEDOUT", `no answer within ${o.connectTimeoutMs} ms`);
  }

  /** Abandons the attempt in progress (its completion, if any, is ignored). */
  drop(): void {
    if (this.req) this.req.dial = undefined;
    this.req = undefined;
    this.handle?.close();
    this.handle = undefined;
  }

  attempt(now: number): void {
    const o = this.options;
    if (this.current !== undefined) (this.tried ??= []).push(this.current);
    this.current = undefined;
    const u = this.attempts <= o.retries ? this.pool.pick(this.tried ?? noneTried, now) : undefined;
    if (u === undefined) {
      this.giveUp();
      return;
    }
    this.attempts += 1;
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
    this.startedAt = now;
  }

  connected(status: number): void {
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
    this.owner.dialed(undefined, h, u);
  }

  failed(u: Upstream, code: string, text?: string): void {
    if (this.cancelled) return;
    const o = this.options;
    const kind = classifyConnectError(code);
    const message = `${u.address} port ${this.pool.port}: ${text ?? code}`;
    this.last = { kind, message };
    o.onError?.(kind);
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
    this.attempt(Date.now());
  }

  giveUp(): void {
    const o = this.options;
    const f =
      this.attempts > 0 && this.last !== undefined
        ? this.last
        : this.pool.upstreams.length === 0
          ? o.emptyReason()
          : {
              kind: "no-address" as const,
              message: `every address of ${o.destination} is down (${this.pool.upstreams.length} known)`,
            };
    if (this.attempts === 0) {
      o.onError?.(f.kind);
      publishUpstreamError({
        mode: "dns-proxy",
        destination: o.destination,
        address: undefined,
        kind: f.kind,
        message: f.message,
      });
    }
    this.owner.dialed(
      { kind: f.kind, message: f.message, attempts: this.attempts },
      undefined,
      undefined,
    );
  }
}

/**
 * Dials the pool: `owner.dialed` is called once, with the connected handle and its address,
 * or with why no connection could be made. May call it before returning (nothing usable).
 * `now`: the time (ms since the epoch), from a clock no older than this call.
 */
export function dialPool(
  pool: UpstreamPool,
  options: DialOptions,
  owner: DialOwner,
  now: number,
): Dial {
  const d = new PoolDial(pool, options, owner);
  d.attempt(now);
  return d;
}

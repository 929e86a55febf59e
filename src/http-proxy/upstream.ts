// An upstream connection: one socket with its response parser, carrying one exchange at a
// time. When the response is complete and both sides agree to keep the connection, it goes
// back to its pool (upstream-pool.ts).
//
// The handlers are module-level functions that find the connection through the socket (no
// closures per connection). Idle time is checked by the proxy's sweeper: the exchange using
// the connection (Exchange.checkUpstream) or the pool (UpstreamPool.sweep).
import { RawSocket, type SocketHandlers } from "../net/raw-socket.ts";
import type { Clock } from "../net/raw-splice.ts";
import type { TcpHandle } from "../net/raw-tcp.ts";
import type { UpstreamPool } from "./upstream-pool.ts";
import { scanResponseHead, scannedResponse, type ScannedResponse } from "./head-scan.ts";
import {
  RESPONSE,
  createParser,
  isParseError,
  rawBodyLength,
  releaseParser,
  resetParser,
  type Parser,
  type RawHeaders,
} from "./llhttp.ts";

/** response head limit: generous, the upstream is not the adversary the client may be */
export const UPSTREAM_MAX_HEADER_BYTES = 64 * 1024;

/** The exchange using an upstream connection. */
export interface UpstreamUser {
  /** a response head; returns what the parser needs: 0 body as framed, 1 no body, 2 upgrade */
  onResponseHead(
    status: number,
    message: string,
    headers: RawHeaders,
    versionMinor: number,
    keepAlive: boolean,
    upgrade: boolean,
  ): number;
  /**
   * A head read without the parser (head-scan.ts), at the start of `chunk`; the body of
   * `head.contentLength` bytes follows. False: not taken, the parser reads it instead.
   */
  onScannedResponse(chunk: Buffer, head: ScannedResponse): boolean;
  onResponseBody(chunk: Buffer): void;
  onResponseComplete(trailers: RawHeaders | undefined): void;
  /** the connection failed, closed or sent something unparsable; `code` names it */
  onUpstreamFailure(code: string, detail: string): void;
  onUpstreamDrain(): void;
  /** after a 101: the bytes that followed the response head in the same read */
  onUpgraded(rest: Buffer): void;
}

export class UpstreamConn {
  readonly socket: RawSocket;
  readonly parser: Parser;
  readonly key: string;
  /** the address connected to (one of the checked ones) */
  readonly address: string;
  user: UpstreamUser | undefined = undefined;
  /** the client socket the response goes to (its writes are batched per read) */
  client: RawSocket | undefined = undefined;
  /** exchanges completed on this connection */
  served = 0;
  /** a final response head was seen; further header callbacks are trailers */
  inFinalResponse = false;
  informational = false;
  /** header fields of a head longer than one read, or a trailer (rare: made when needed) */
  acc: RawHeaders | undefined = undefined;
  /** the server sent FIN or asked to close: not reusable */
  ending = false;
  upgraded = false;
  /** body bytes of the current response still to relay without the parser */
  rawRemaining = 0;
  /** the parser will report the (fake) end of the message we stopped it at: ignore it */
  skipComplete = false;
  /** the parser has read nothing since it was made or reset: a head may be scanned instead */
  parserFresh = true;
  pooled = false;
  pool: UpstreamPool | undefined = undefined;
  /** a read is being handled (see release) */
  reading = false;
  /** released during the read: goes back to the pool when the read is over */
  putAfterRead = false;
  /** the proxy's coarse clock */
  readonly clock: Clock;
  /** the clock at the last byte read or written */
  lastActivity: number;

  constructor(handle: TcpHandle, address: string, key: string, clock: Clock) {
    this.socket = new RawSocket(handle, upstreamHandlers, this);
    // Responses are read into a buffer of the connection's own, reused while no write to
    // the client still holds its bytes (bulk bodies cost no allocation per read).
    this.socket.ownReadBuffer();
    this.key = key;
    this.address = address;
    this.clock = clock;
    this.lastActivity = clock.now;
    this.parser = createParser(RESPONSE, UPSTREAM_MAX_HEADER_BYTES, callbacks, this);
  }

  /** Hands the connection to an exchange whose answer goes to `client`. */
  attach(user: UpstreamUser, client: RawSocket): void {
    this.user = user;
    this.client = client;
    this.lastActivity = this.clock.now;
    this.socket.resume();
  }

  /**
   * The exchange is done with it: back to the pool when reusable, else closed. Inside a read
   * it goes back only once the read is over: the client's next request, begun at once, must
   * not take it while the rest of the read (bytes no request asked for) is still unread.
   */
  release(reusable: boolean): void {
    this.user = undefined;
    this.client = undefined;
    this.served++;
    if (reusable && !this.ending && !this.socket.destroyed && this.pool !== undefined) {
      if (this.reading) this.putAfterRead = true;
      else this.pool.put(this);
    } else {
      this.destroy();
    }
  }

  destroy(): void {
    this.user = undefined;
    this.socket.destroy();
  }

  /** After a 101: the socket goes to a tunnel; this object is done with it. */
  detach(): RawSocket {
    this.user = undefined;
    this.client = undefined;
    releaseParser(this.parser);
    return this.socket;
  }
}

function stateOf(s: RawSocket): UpstreamConn {
  return s.owner as UpstreamConn;
}

const callbacks = {
  onHeaders(this: Parser, headers: RawHeaders): void {
    const u = this.owner as UpstreamConn | undefined;
    if (u === undefined) return;
    const acc = (u.acc ??= []);
    for (const h of headers) acc.push(h);
  },
  onHeadersComplete(
    this: Parser,
    _major: number,
    minor: number,
    headers: RawHeaders | undefined,
    _method: number | undefined,
    _url: string | undefined,
    status: number | undefined,
    message: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ): number {
    const u = this.owner as UpstreamConn | undefined;
    if (!u?.user) return 1;
    const h = headers ?? u.acc ?? [];
    u.acc = undefined;
    const code = status ?? 0;
    u.informational = code >= 100 && code < 200 && code !== 101;
    if (!u.informational) u.inFinalResponse = true;
    if (!keepAlive) u.ending = true;
    const r = u.user.onResponseHead(code, message ?? "", h, minor, keepAlive, upgrade);
    if (r === 0 && !u.informational) {
      const length = rawBodyLength(h);
      if (length > 0) {
        u.rawRemaining = length;
        u.skipComplete = true;
        return 2;
      }
    }
    return r;
  },
  onBody(this: Parser, chunk: Buffer): void {
    const u = this.owner as UpstreamConn | undefined;
    u?.user?.onResponseBody(chunk);
  },
  onMessageComplete(this: Parser): void {
    const u = this.owner as UpstreamConn | undefined;
    if (!u) return;
    // The parser reports a (fake) end where we stopped it: a 101 (the rest is the tunnel's)
    // or the head of a body we relay ourselves.
    if (u.upgraded) return;
    if (u.skipComplete) {
      u.skipComplete = false;
      return;
    }
    if (u.informational) {
      u.informational = false;
      return;
    }
    const trailers = u.acc !== undefined && u.acc.length > 0 ? u.acc : undefined;
    u.acc = undefined;
    u.inFinalResponse = false;
    u.user?.onResponseComplete(trailers);
  },
};

function onData(this: RawSocket, chunk: Buffer): void {
  const u = stateOf(this);
  const client = u.client;
  u.reading = true;
  try {
    read(u, this, chunk);
  } finally {
    u.reading = false;
  }
  // Whatever the read produced for the client (a head and the first body bytes) leaves in
  // one system call.
  client?.uncork();
  if (u.putAfterRead) {
    u.putAfterRead = false;
    if (u.user === undefined && !u.socket.destroyed && !u.ending) u.pool?.put(u);
  }
}

function read(u: UpstreamConn, socket: RawSocket, chunk: Buffer): void {
  // Bytes from an idle connection: the server broke the protocol.
  if (u.user === undefined) return overrun(u);
  u.lastActivity = u.clock.now;
  let rest = chunk;
  for (;;) {
    if (u.rawRemaining > 0) {
      const n = Math.min(u.rawRemaining, rest.length);
      u.rawRemaining -= n;
      u.user?.onResponseBody(n === rest.length ? rest : rest.subarray(0, n));
      if (u.rawRemaining === 0) endRawResponse(u);
      if (n === rest.length) return;
      rest = rest.subarray(n);
      if (u.user === undefined) return overrun(u);
    }
    if (u.parserFresh && scanResponseHead(rest, UPSTREAM_MAX_HEADER_BYTES)) {
      const head = scannedResponse;
      // (read before anything below can start another exchange)
      const headEnd = head.headEnd;
      const length = head.contentLength;
      if (u.user.onScannedResponse(rest, head)) {
        if (head.close) u.ending = true;
        u.inFinalResponse = true;
        u.rawRemaining = length;
        if (length === 0) endRawResponse(u);
        if (headEnd === rest.length) return;
        rest = rest.subarray(headEnd);
        if (u.user === undefined) return overrun(u);
        continue;
      }
    }
    u.parserFresh = false;
    const r = u.parser.execute(rest);
    if (isParseError(r)) {
      const user = u.user;
      u.ending = true;
      u.destroy();
      user?.onUpstreamFailure(r.code, r.reason);
      return;
    }
    if (u.upgraded) {
      socket.pause();
      u.user?.onUpgraded(rest.subarray(r));
      return;
    }
    if (u.rawRemaining === 0 || r >= rest.length) return;
    rest = rest.subarray(r);
  }
}

/** The last byte of a body relayed without the parser has gone: the response is complete. */
function endRawResponse(u: UpstreamConn): void {
  if (!u.parserFresh) {
    resetParser(u.parser, RESPONSE, UPSTREAM_MAX_HEADER_BYTES);
    u.parserFresh = true;
  }
  u.inFinalResponse = false;
  u.user?.onResponseComplete(undefined);
}

/** Bytes nobody asked for: the server broke the protocol; do not reuse the connection. */
function overrun(u: UpstreamConn): void {
  u.pool?.remove(u);
  u.destroy();
}

function onEnd(this: RawSocket): void {
  const u = stateOf(this);
  u.ending = true;
  if (u.user === undefined) {
    u.pool?.remove(u);
    u.destroy();
    return;
  }
  if (u.upgraded) return;
  // A close-delimited body ends here; anything else still open was cut short.
  const client = u.client;
  const r = u.rawRemaining > 0 ? undefined : u.parser.finish();
  client?.uncork();
  if (u.user === undefined) return;
  const user = u.user;
  u.destroy();
  user.onUpstreamFailure(
    isParseError(r) ? r.code : "ECONNCLOSED",
    "the upstream closed the connection early",
  );
}

function onError(this: RawSocket, code: string): void {
  const u = stateOf(this);
  u.ending = true;
  const user = u.user;
  u.pool?.remove(u);
  u.destroy();
  if (!u.upgraded) user?.onUpstreamFailure(code, `${code} on the upstream connection`);
}

function onClose(this: RawSocket): void {
  const u = stateOf(this);
  u.pool?.remove(u);
  releaseParser(u.parser);
  const user = u.user;
  u.user = undefined;
  if (!u.upgraded) user?.onUpstreamFailure("ECONNCLOSED", "the upstream connection closed");
}

function onDrain(this: RawSocket): void {
  stateOf(this).user?.onUpstreamDrain();
}

const upstreamHandlers: SocketHandlers = {
  data: onData,
  end: onEnd,
  drain: onDrain,
  error: onError,
  close: onClose,
};

// The client socket's handlers and the request parser's callbacks, as module-level functions
// that find their connection through the socket (no closures per connection).
import type { RawSocket, SocketHandlers } from "../net/raw-socket.ts";
import type { ClientConnection } from "./client-connection.ts";
import { ConnectRequest } from "./connect.ts";
import { Exchange } from "./exchange.ts";
import { scanRequestHead, scannedRequest } from "./head-scan.ts";
import {
  REQUEST,
  isParseError,
  methods,
  rawBodyLength,
  resetParser,
  ParserPool,
  type Parser,
  type RawHeaders,
} from "./llhttp.ts";
import { PAUSE_TUNNEL, type ExchangeKind } from "./proxy-request.ts";

export const requestCallbacks = {
  // A head begins: its header time starts, and the parser holds part of a message (it must
  // not go back to the pool, see ClientConnection.checkTimers). Bytes of a request read behind
  // another one in the same read begin here too, not at the read.
  onMessageBegin(this: Parser): void {
    const c = this.owner as ClientConnection | undefined;
    if (c !== undefined) c.headSince = c.ctx.clock.now || 1;
  },
  onHeaders(this: Parser, headers: RawHeaders, url: string): void {
    const c = this.owner as ClientConnection | undefined;
    if (c === undefined) return;
    const acc = (c.acc ??= []);
    for (const h of headers) acc.push(h);
    c.urlAcc += url;
  },
  onHeadersComplete(
    this: Parser,
    _major: number,
    minor: number,
    headers: RawHeaders | undefined,
    method: number | undefined,
    url: string | undefined,
    _status: number | undefined,
    _message: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ): number {
    const c = this.owner as ClientConnection | undefined;
    if (c === undefined) return 1;
    const h = headers ?? c.acc ?? [];
    const u = url ?? c.urlAcc;
    c.acc = undefined;
    c.urlAcc = "";
    return requestHead(c, methods[method ?? -1] ?? "", u, h, minor, keepAlive, upgrade);
  },
  onBody(this: Parser, chunk: Buffer): void {
    const c = this.owner as ClientConnection | undefined;
    c?.parsing?.onRequestBody(chunk);
  },
  onMessageComplete(this: Parser): void {
    const c = this.owner as ClientConnection | undefined;
    if (c === undefined) return;
    if (c.skipComplete) {
      c.skipComplete = false;
      return;
    }
    const r = c.parsing;
    c.parsing = undefined;
    r?.onRequestComplete();
  },
};

/**
 * A request head is read, by the parser or by the scan: the request joins the connection's
 * queue. Returns what the parser needs (0 body as framed, 2 stop: a body we relay ourselves).
 */
function requestHead(
  c: ClientConnection,
  m: string,
  u: string,
  h: RawHeaders,
  minor: number,
  keepAlive: boolean,
  upgrade: boolean,
): number {
  c.headSince = 0;
  if (m === "CONNECT") {
    c.stopped = true;
    c.enqueue(new ConnectRequest(c, u));
    return 0;
  }
  const kind: ExchangeKind = upgrade ? "upgrade" : "forward";
  if (upgrade) c.stopped = true;
  c.enqueue(new Exchange(c, m, u, h, minor, keepAlive, kind));
  if (!upgrade && !c.closing) {
    const length = rawBodyLength(h);
    if (length > 0) {
      c.rawRemaining = length;
      c.skipComplete = true;
      return 2;
    }
  }
  return 0;
}

/**
 * A head the scan read (head-scan.ts): its fields as strings, as the parser would hand them
 * over. A request without a body is complete too; a body follows as `rawRemaining` bytes,
 * as after a head the parser read. Returns where the body or the next request begins.
 */
function scannedHead(c: ClientConnection, chunk: Buffer): number {
  const q = scannedRequest;
  const end = q.headEnd;
  const f = q.fields;
  const h: RawHeaders = [];
  for (let i = 0; i < f.length; i += 4) {
    h.push(chunk.toString("latin1", f[i], f[i + 1]), chunk.toString("latin1", f[i + 2], f[i + 3]));
  }
  const url = chunk.toString("latin1", q.urlStart, q.urlEnd);
  if (requestHead(c, q.method, url, h, 1, true, false) === 2) {
    // The parser is not stopped at the head: no fake end of message to skip.
    c.skipComplete = false;
    return end;
  }
  const r = c.parsing;
  c.parsing = undefined;
  r?.onRequestComplete();
  return end;
}

/**
 * The thread's request parsers not in use (a client connection holds one only while it
 * reads requests). Bounded: beyond it, parsers given back are freed.
 */
export const requestParsers = new ParserPool(REQUEST, requestCallbacks, 256);

function connOf(s: RawSocket): ClientConnection {
  return s.owner as ClientConnection;
}

function onData(this: RawSocket, chunk: Buffer): void {
  const c = connOf(this);
  c.lastActivity = c.ctx.clock.now;
  // Closing, or past a CONNECT/Upgrade head or a broken pipelined one: the bytes are dropped.
  if (c.stopped) return;
  let rest = chunk;
  for (;;) {
    if (c.rawRemaining > 0) {
      const n = Math.min(c.rawRemaining, rest.length);
      c.rawRemaining -= n;
      const req = c.parsing;
      req?.onRequestBody(n === rest.length ? rest : rest.subarray(0, n));
      if (c.rawRemaining === 0) {
        if (c.parser !== undefined && !c.parserFresh) {
          resetParser(c.parser, REQUEST, c.ctx.options.maxHeaderBytes);
        }
        c.parserFresh = true;
        c.parsing = undefined;
        req?.onRequestComplete();
      }
      if (n === rest.length || c.closed || c.closing) return;
      rest = rest.subarray(n);
    }
    if (c.parserFresh && !c.closing && scanRequestHead(rest, c.ctx.options.maxHeaderBytes)) {
      const end = scannedHead(c, rest);
      if (c.closed || c.closing || c.stopped || end === rest.length) return;
      rest = rest.subarray(end);
      continue;
    }
    c.parserFresh = false;
    const r = c.parserForRead().execute(rest);
    if (c.closed || c.closing) return;
    if (isParseError(r)) {
      c.onParseError(r);
      return;
    }
    if (c.stopped) return stopParsing(c, rest, r);
    if (c.rawRemaining === 0 || r >= rest.length) return;
    rest = rest.subarray(r);
  }
}

/** CONNECT or Upgrade: what follows the head belongs to the tunnel, not to the parser. */
function stopParsing(c: ClientConnection, chunk: Buffer, r: number): void {
  c.pauseFor(PAUSE_TUNNEL);
  const req = c.parsing ?? c.queue[c.queue.length - 1] ?? c.active;
  c.parsing = undefined;
  c.headSince = 0;
  // a copy: the chunk lies in the shared read buffer, which the next read reuses
  if (req !== undefined && r < chunk.length) req.head = Buffer.from(chunk.subarray(r));
}

function onDrain(this: RawSocket): void {
  connOf(this).active?.onClientDrain();
}

function onEnd(this: RawSocket): void {
  const c = connOf(this);
  // After our own FIN (lingering close): the socket closes itself once that FIN is out.
  if (c.socket.writableEnded) return;
  // A client may half-close after its request and still read the answer. A request cut
  // short (head or body incomplete) can never complete: say so and close.
  // No parser: the connection was idle between requests, nothing is cut short.
  const r = c.parser?.finish();
  if (c.closed || c.closing) return;
  if (isParseError(r) || c.parsing !== undefined || c.headSince > 0) {
    c.parsing?.abort();
    if (c.active?.responseStarted) return c.abort("client-reset");
    c.active = undefined;
    c.parsing = undefined;
    c.rejectAndClose({
      status: 400,
      message:
        "Cannot read the request: the client closed its side before the request was complete",
    });
    return;
  }
  if (c.active === undefined) {
    c.endReason ??= "done";
    c.socket.destroy();
  } else {
    c.closing = true;
  }
}

function onError(this: RawSocket, code: string): void {
  const c = connOf(this);
  c.endReason ??= code === "ECONNRESET" || code === "EPIPE" ? "client-reset" : "error";
}

function onClose(this: RawSocket): void {
  const c = connOf(this);
  c.closed = true;
  c.releaseParser();
  c.active?.abort();
  for (const q of c.queue) q.abort();
  c.queue.length = 0;
  if (c.active !== undefined && !c.endReason) c.endReason = "client-reset";
  c.finalClose();
}

export const clientHandlers: SocketHandlers = {
  data: onData,
  end: onEnd,
  drain: onDrain,
  error: onError,
  close: onClose,
};

export function destroySocket(s: RawSocket): void {
  if (!s.destroyed) s.destroy();
}

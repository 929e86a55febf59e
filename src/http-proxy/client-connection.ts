// One client connection: feeds the request parser, queues pipelined requests (one active at
// a time, reading paused while others wait), enforces the head and idle timeouts (checked
// by the proxy's sweeper against a coarse clock, so no timer is armed per request), answers
// refusals, and turns into a spliced tunnel after CONNECT or a 101.
import { RawSocket, noHandlers } from "../net/raw-socket.ts";
import { startRawTunnel, type RawTunnel } from "../net/raw-tunnel.ts";
import type { TcpHandle } from "../net/raw-tcp.ts";
import {
  channels,
  publishConnectionClose,
  publishConnectionOpen,
  type CloseReason,
} from "../observe/events.ts";
import { clientHandlers, destroySocket, requestParsers } from "./client-events.ts";
import type { ConnectRequest } from "./connect.ts";
import type { Exchange } from "./exchange.ts";
import type { ParseError, Parser, RawHeaders } from "./llhttp.ts";
import type { ProxyContext } from "./proxy-context.ts";
import { PAUSE_PIPELINE, PAUSE_TUNNEL, type ProxyRequest } from "./proxy-request.ts";
import {
  bodyStalledReject,
  parseErrorReject,
  renderReject,
  seconds,
  type Reject,
} from "./reject.ts";
import type { UpstreamConn } from "./upstream.ts";
import type { ForwardTarget } from "./request-target.ts";
import { RouteMemo } from "./route.ts";

/** after our last answer, how long a client may take to close before we drop it */
const LINGER_MS = 2_000;
const SHUTTING_DOWN: Reject = {
  status: 503,
  message: "Cannot serve the request: the proxy is shutting down; send it again",
};
/** a connection idle between requests this long gives its parser back */
const PARK_PARSER_MS = 1_000;
/** TCP keep-alive probes on tunnels (dead peers are found even when idle is long) */
const TUNNEL_KEEPALIVE_MS = 60_000;

export class ClientConnection {
  readonly socket: RawSocket;
  readonly ctx: ProxyContext;
  /** the request parser: taken from the thread's pool while requests are read (parserForRead) */
  parser: Parser | undefined = undefined;
  /** no parser, or one that has read nothing since it was taken or reset: a head may be scanned */
  parserFresh = true;
  readonly openedAt = performance.now();
  active: ProxyRequest | undefined = undefined;
  readonly queue: ProxyRequest[] = [];
  /** the request whose head/body the parser is reading */
  parsing: ProxyRequest | undefined = undefined;
  /** header fields of a head longer than one read, until its end (rare: made when needed) */
  acc: RawHeaders | undefined = undefined;
  urlAcc = "";
  /** clock when the current request head began (0: not reading a head) */
  headSince = 0;
  lastActivity: number;
  paused = 0;
  closing = false;
  closed = false;
  /** the parser stopped at a CONNECT or Upgrade head, or we are closing: bytes are dropped */
  stopped = false;
  /** the answer to a malformed pipelined request, sent once the one before it is answered */
  deferredReject: Reject | undefined = undefined;
  /** request body bytes still to relay without the parser (Content-Length bodies) */
  rawRemaining = 0;
  /** the parser will report the (fake) end of the message we stopped it at: ignore it */
  skipComplete = false;
  tunnel: RawTunnel | undefined = undefined;
  endReason: CloseReason | undefined = undefined;
  /** the status of the last refusal written (for the close line: why a client got an error) */
  refusedWith: number | undefined = undefined;
  last: ProxyRequest | undefined = undefined;
  private clientTextCache: string | undefined = undefined;
  /** the last request's target and decision, for the next one to the same server */
  lastTarget: ForwardTarget | undefined = undefined;
  readonly routeMemo = new RouteMemo();
  private poolKeyCache = "";
  private poolKeyGeneration = -1;
  private poolKeyDestination = "";

  constructor(handle: TcpHandle, ctx: ProxyContext) {
    this.socket = new RawSocket(handle, clientHandlers, this);
    this.ctx = ctx;
    this.lastActivity = ctx.clock.now;
    ctx.connections.add(this);
    // The peer's address is asked for now: once the handle is closed it cannot be.
    if (channels.connectionClose.hasSubscribers || channels.decision.hasSubscribers) {
      void this.clientText;
    }
    if (channels.connectionOpen.hasSubscribers) {
      publishConnectionOpen({
        mode: "http-proxy",
        listener: ctx.options.listenerName,
        client: this.clientText,
      });
    }
    // Requests are read into the thread's shared buffer: what is kept is copied (bodies
    // waiting for their upstream or queued behind a write, bytes after a CONNECT head).
    this.socket.sharedReadBuffer();
    this.socket.resume();
  }

  /** "ip:port" of the client, built once and only when asked. */
  get clientText(): string {
    // (on a dual-stack listener IPv4 clients appear IPv4-mapped: shown as IPv4)
    return (this.clientTextCache ??= this.socket.peerText());
  }

  /**
   * The upstream pool's key for a destination under a policy generation (connections made
   * under an older policy are not reused); the last one is kept for the next request.
   */
  poolKey(generation: number, destination: string): string {
    if (generation !== this.poolKeyGeneration || destination !== this.poolKeyDestination) {
      this.poolKeyGeneration = generation;
      this.poolKeyDestination = destination;
      this.poolKeyCache = `${generation}|${destination}`;
    }
    return this.poolKeyCache;
  }

  /** The parser for the bytes just read. */
  parserForRead(): Parser {
    return (this.parser ??= requestParsers.take(this.ctx.options.maxHeaderBytes, this));
  }

  /**
   * Gives the parser back to the pool (the connection is closed, a tunnel, or idle between
   * requests): an idle connection holds no parser. Never from inside the parser's execute.
   */
  releaseParser(): void {
    const p = this.parser;
    if (p === undefined) return;
    this.parser = undefined;
    this.parserFresh = true;
    requestParsers.give(p);
  }

  pauseFor(bit: number): void {
    if (this.paused === 0) this.socket.pause();
    this.paused |= bit;
  }

  resumeFor(bit: number): void {
    if ((this.paused & bit) === 0) return;
    this.paused &= ~bit;
    if (this.paused === 0 && !this.closed) this.socket.resume();
  }

  /** A request head was parsed: queue it, start it when it is the only one. */
  enqueue(r: ProxyRequest): void {
    this.parsing = r;
    if (this.active === undefined && !this.closing) {
      this.active = r;
      r.begin();
    } else if (this.active === undefined && this.ctx.draining) {
      // Its head was still arriving when the drain began: no request will be started any
      // more, so it is told why now rather than cut when the drain time is up.
      this.parsing = undefined;
      r.abort();
      this.rejectAndClose(SHUTTING_DOWN);
    } else {
      this.queue.push(r);
      this.pauseFor(PAUSE_PIPELINE);
    }
  }

  /** The active request is answered in full. */
  exchangeDone(r: ProxyRequest, close: boolean): void {
    this.last = r;
    this.active = undefined;
    this.lastActivity = this.ctx.clock.now;
    if (this.deferredReject !== undefined) {
      this.rejectAndClose(this.deferredReject);
      return;
    }
    if (close || this.closing || this.ctx.draining) {
      const next = this.queue[0];
      if (!close && this.ctx.draining && next !== undefined) {
        // A request sent behind the last one we serve: tell it why instead of dropping it.
        this.rejectAndClose(SHUTTING_DOWN);
        return;
      }
      this.endReason ??= "done";
      this.lingeringClose();
      return;
    }
    const next = this.queue.shift();
    if (next !== undefined) {
      this.active = next;
      if (this.queue.length === 0) this.resumeFor(PAUSE_PIPELINE);
      next.begin();
    }
  }

  /** Writes a complete refusal and closes once it is out. */
  rejectAndClose(r: Reject): void {
    if (this.closed) return;
    this.ctx.totals.rejected++;
    if (this.active !== undefined) this.last = this.active;
    this.active = undefined;
    for (const q of this.queue) q.abort();
    this.queue.length = 0;
    if (this.socket.writable) this.socket.write(renderReject(r), "utf8");
    this.refusedWith = r.status;
    this.endReason ??= r.status === 403 ? "denied" : r.status >= 502 ? "connect-failed" : "error";
    this.lingeringClose();
  }

  /**
   * Ends our side and reads (and drops) whatever the client still sends until it closes, so a
   * client still uploading does not get a reset that could destroy the answer before it is read.
   */
  lingeringClose(): void {
    if (this.closing && this.socket.writableEnded) return;
    this.closing = true;
    this.stopped = true;
    this.paused = 0;
    this.socket.end();
    this.socket.resume();
    setTimeout(destroySocket, LINGER_MS, this.socket).unref();
  }

  /**
   * The drain time is up: the connection goes now. A client still sending a request head is
   * told why (503) before the close; anything else is cut.
   */
  drainTimeUp(): void {
    if (this.tunnel === undefined && this.active === undefined && this.headSince > 0) {
      this.endReason = "drain";
      this.rejectAndClose(SHUTTING_DOWN);
      return;
    }
    this.abort("drain");
  }

  /** Cuts the connection now (e.g. the upstream failed mid-answer, or the drain time is up). */
  abort(reason: CloseReason): void {
    this.endReason ??= reason;
    if (this.tunnel !== undefined) {
      this.tunnel.close(reason);
      return;
    }
    this.active?.abort();
    this.socket.destroy();
  }

  /** CONNECT answered by a connected upstream: say so, then splice. */
  connectTunnel(r: ConnectRequest, upstream: TcpHandle): void {
    if (this.closed || this.socket.destroyed) {
      upstream.close();
      return;
    }
    this.last = r;
    this.active = undefined;
    this.socket.write("HTTP/1.1 200 Connection established\r\n\r\n");
    this.splice(new RawSocket(upstream, noHandlers, undefined), r.head, undefined);
  }

  /** An Upgrade answered with 101: the rest of both connections is a tunnel. */
  upgradeToTunnel(r: Exchange, u: UpstreamConn, rest: Buffer): void {
    this.last = r;
    this.active = undefined;
    const upstream = u.detach();
    if (this.closed || this.socket.destroyed) {
      upstream.destroy();
      return;
    }
    this.splice(upstream, r.head, rest);
  }

  private splice(
    upstream: RawSocket,
    fromClient: Buffer | undefined,
    toClient: Buffer | undefined,
  ) {
    // Bytes that came right behind the heads (same read) go first; writes keep their order.
    if (toClient !== undefined && toClient.length > 0) this.socket.write(toClient);
    if (fromClient !== undefined && fromClient.length > 0) upstream.write(fromClient);
    this.paused = PAUSE_TUNNEL;
    this.releaseParser();
    this.tunnel = startRawTunnel(
      this.socket,
      upstream,
      { keepAliveMs: TUNNEL_KEEPALIVE_MS },
      this.ctx.clock,
      (result) => {
        this.endReason ??= result.end;
        this.closed = true;
        this.finalClose();
      },
    );
  }

  /** The sweeper's look at this connection's clocks. */
  checkTimers(now: number): void {
    const o = this.ctx.options;
    const t = this.tunnel;
    if (t !== undefined) {
      if (now - t.lastActivity > o.idleTimeoutMs) t.close("idle-timeout");
      return;
    }
    if (this.closed || this.closing) return;
    if (this.headSince > 0 && now - this.headSince > o.headerTimeoutMs) {
      this.headSince = 0;
      this.endReason = "idle-timeout";
      this.refuseRequestBeingRead({
        status: 408,
        message: `Cannot read the request head: not complete after ${seconds(o.headerTimeoutMs)}`,
      });
      return;
    }
    if (this.active === undefined && this.parsing === undefined) {
      if (now - this.lastActivity > o.keepAliveTimeoutMs) {
        // Idle between requests: closing is ordinary HTTP keep-alive, no answer is due.
        this.endReason = "idle-timeout";
        this.lingeringClose();
      } else if (
        this.headSince === 0 &&
        now - this.lastActivity >= PARK_PARSER_MS &&
        this.rawRemaining === 0 &&
        !this.stopped
      ) {
        // Between requests the parser is at the start of the next message: nothing is lost.
        this.releaseParser();
      }
      return;
    }
    this.active?.checkUpstream(now);
    if (this.closed || this.closing) return;
    if (this.parsing !== undefined && now - this.lastActivity > o.idleTimeoutMs) {
      // The client stopped sending its request body.
      const r = this.parsing;
      this.endReason = "idle-timeout";
      if (r.responseStarted) return this.abort("idle-timeout");
      r.abort();
      this.active = undefined;
      this.rejectAndClose(bodyStalledReject(o.idleTimeoutMs));
    }
  }

  /** SIGTERM: idle connections close now, busy ones after their current answer. */
  drain(): void {
    if (this.closed || this.tunnel !== undefined) return;
    if (this.active === undefined && this.parsing === undefined && this.headSince === 0) {
      this.endReason = "drain";
      this.lingeringClose();
    } else {
      this.closing = true;
    }
  }

  onParseError(err: ParseError): void {
    this.refuseRequestBeingRead(
      parseErrorReject(err.code, err.reason, this.ctx.options.maxHeaderBytes),
    );
  }

  /**
   * The request being read cannot be (malformed, or its head too slow): it gets `reject` and
   * the connection closes. Behind a request still being answered, that answer finishes first
   * and the refusal follows it: a refusal written now would land inside the answer's body.
   * Reading stops at once either way.
   */
  private refuseRequestBeingRead(reject: Reject): void {
    const r = this.active;
    if (r !== undefined && this.parsing === undefined && this.queue.length === 0) {
      this.deferredReject = reject;
      this.stopped = true;
      return;
    }
    if (r !== undefined && r.responseStarted) {
      // requests queued behind the one being answered: no place for an answer; cut
      this.abort(this.endReason ?? "error");
      return;
    }
    r?.abort();
    this.active = undefined;
    this.rejectAndClose(reject);
  }

  finalClose(): void {
    if (!this.ctx.connections.delete(this)) return;
    this.ctx.connectionCount.closed();
    if (channels.connectionClose.hasSubscribers) {
      const r = this.last ?? this.active;
      publishConnectionClose({
        mode: "http-proxy",
        listener: this.ctx.options.listenerName,
        client: this.clientText,
        destination: r?.destination || undefined,
        address: r?.address,
        ruleLine: r?.ruleLine,
        bytesFromClient: this.socket.bytesRead,
        bytesToClient: this.socket.bytesWritten,
        durationMs: performance.now() - this.openedAt,
        end: this.endReason ?? "done",
        status: this.refusedWith,
      });
    }
  }
}

// One forwarded request (absolute-form) and its response, or an Upgrade request that may
// turn into a tunnel. The request head is checked, the destination decided and resolved,
// an upstream connection taken from the pool or dialed to a checked address, then bodies
// stream both ways with backpressure: nothing is buffered beyond one read.
//
// Framing is ours on both hops: a Content-Length body is passed through, a chunked one is
// re-chunked, a close-delimited response becomes chunked for HTTP/1.1 clients. Hop-by-hop
// fields never cross.
import { inSharedReadBuffer } from "../net/raw-socket.ts";
import { channels, publishRequest, publishUpstreamError } from "../observe/events.ts";
import type { ClientConnection } from "./client-connection.ts";
import { dialUpstream } from "./dial-upstream.ts";
import { trailerLines } from "./headers.ts";
import type { RawHeaders } from "./llhttp.ts";
import type { PolicyState } from "./proxy-context.ts";
import {
  PAUSE_UPSTREAM,
  PAUSE_WAIT,
  type ExchangeKind,
  type ProxyRequest,
} from "./proxy-request.ts";
import { bodyStalledReject, noAnswerReject, silentUpstreamReject, type Reject } from "./reject.ts";
import {
  BODY_CHUNKED,
  BODY_NONE,
  checkRequestHead,
  renderRequestHead,
  type RequestHead,
} from "./request-head.ts";
import { parseAbsoluteTarget, type ForwardTarget } from "./request-target.ts";
import {
  renderInformational,
  renderResponseHead,
  renderSwitching,
  responseTail,
} from "./response-head.ts";
import type { ScannedResponse } from "./head-scan.ts";
import { route, type RouteOutcome } from "./route.ts";
import { UpstreamConn, type UpstreamUser } from "./upstream.ts";

/** the head of a request not checked yet */
const NO_HEAD: RequestHead = Object.freeze({
  bodyKind: BODY_NONE,
  contentLength: "",
  expectContinue: false,
  upgrade: "",
  listed: undefined,
});

const idempotent = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

export class Exchange implements UpstreamUser, ProxyRequest {
  readonly conn: ClientConnection;
  readonly method: string;
  readonly url: string;
  readonly headers: RawHeaders;
  readonly clientMinor: number;
  readonly clientKeepAlive: boolean;
  readonly kind: ExchangeKind;
  readonly startedAt = performance.now();
  done = false;
  /** bytes that followed the head of a CONNECT or Upgrade request in the same read */
  head: Buffer | undefined = undefined;
  policy: PolicyState | undefined = undefined;

  private head_: RequestHead = NO_HEAD;
  private pending: Buffer[] | undefined = undefined;
  private requestComplete = false;
  private requestSent = false;
  private headWritten = false;

  target: ForwardTarget | undefined = undefined;
  destination = "";
  address: string | undefined = undefined;
  ruleLine: number | undefined = undefined;
  private upstream: UpstreamConn | undefined = undefined;
  private retried = false;
  private addresses: readonly string[] = [];

  status = 0;
  responseStarted = false;
  private responseChunked = false;
  private closeAfter = false;

  constructor(
    conn: ClientConnection,
    method: string,
    url: string,
    headers: RawHeaders,
    clientMinor: number,
    clientKeepAlive: boolean,
    kind: ExchangeKind,
  ) {
    this.conn = conn;
    this.method = method;
    this.url = url;
    this.headers = headers;
    this.clientMinor = clientMinor;
    this.clientKeepAlive = clientKeepAlive;
    this.kind = kind;
  }

  /** Called when this exchange becomes the connection's active one. */
  begin(): void {
    const checked = checkRequestHead(
      this.headers,
      this.clientMinor,
      this.url,
      this.conn.ctx.options.viaToken,
    );
    if ("status" in checked) return this.reject(checked);
    this.head_ = checked;
    const t = parseAbsoluteTarget(this.url, this.conn.lastTarget);
    if ("problem" in t) return this.reject({ status: 400, message: t.problem });
    this.target = t;
    this.conn.lastTarget = t;
    this.destination = t.destination;
    if (checked.bodyKind !== BODY_NONE && !this.requestComplete) this.conn.pauseFor(PAUSE_WAIT);
    this.policy = this.conn.ctx.policy;
    route(
      this.conn.ctx,
      this.policy,
      this,
      { host: t.host, port: t.port, connect: false },
      (o) => this.routed(o),
      this.conn.routeMemo,
    );
  }

  get client(): string {
    return this.conn.clientText;
  }

  private routed(o: RouteOutcome): void {
    if (this.done) return;
    this.ruleLine = o.decision?.rule?.line;
    if (!o.ok) return this.reject(o.reject);
    this.addresses = o.addresses;
    this.acquire();
  }

  private acquire(): void {
    const t = this.target as ForwardTarget;
    const ctx = this.conn.ctx;
    const key = this.conn.poolKey(this.policy?.generation ?? 0, t.destination);
    // An Upgrade takes its connection for good: always a fresh one, never pooled.
    const pooled = this.kind === "forward" && !this.retried ? ctx.pool.take(key) : undefined;
    if (pooled !== undefined) return this.use(pooled);
    dialUpstream(
      ctx,
      this.destination,
      this.addresses,
      t.port,
      () => this.done,
      (r) => {
        if ("status" in r) return this.reject(r);
        const u = new UpstreamConn(r.handle, r.address, key, ctx.clock);
        ctx.pool.adopt(u);
        this.use(u);
      },
    );
  }

  private use(u: UpstreamConn): void {
    const t = this.target as ForwardTarget;
    const o = this.conn.ctx.options;
    this.upstream = u;
    this.address = u.address;
    u.attach(this, this.conn.socket);
    const head = renderRequestHead(
      this.method,
      t,
      this.headers,
      this.head_,
      this.clientMinor,
      this.kind === "upgrade",
      o.viaToken,
    );
    const s = u.socket;
    s.cork();
    s.write(head);
    this.headWritten = true;
    const pending = this.pending;
    this.pending = undefined;
    if (pending !== undefined) for (const c of pending) this.writeBody(c);
    if (this.requestComplete) this.endBody();
    s.uncork();
    if (this.kind === "upgrade") return; // the client socket stays paused until the answer
    if (s.needDrain) this.conn.pauseFor(PAUSE_UPSTREAM);
    this.conn.resumeFor(PAUSE_WAIT);
  }

  /** A piece of the client's request body (already de-chunked by the parser). */
  onRequestBody(body: Buffer): void {
    if (this.done) return;
    // Bytes still in the client's read buffer are copied: the write may keep them.
    const chunk = inSharedReadBuffer(body) ? Buffer.from(body) : body;
    if (!this.headWritten) {
      (this.pending ??= []).push(chunk);
      return;
    }
    if (!this.writeBody(chunk)) this.conn.pauseFor(PAUSE_UPSTREAM);
  }

  onRequestComplete(): void {
    this.requestComplete = true;
    if (this.done || !this.headWritten) return;
    this.endBody();
  }

  private writeBody(chunk: Buffer): boolean {
    const u = this.upstream as UpstreamConn;
    u.lastActivity = u.clock.now;
    const s = u.socket;
    if (this.head_.bodyKind !== BODY_CHUNKED) return s.write(chunk);
    s.cork();
    s.write(`${chunk.length.toString(16)}\r\n`);
    s.write(chunk);
    s.write("\r\n");
    return s.uncork();
  }

  private endBody(): void {
    if (this.head_.bodyKind === BODY_CHUNKED) {
      (this.upstream as UpstreamConn).socket.write("0\r\n\r\n");
    }
    this.requestSent = true;
  }

  onResponseHead(
    status: number,
    message: string,
    headers: RawHeaders,
    _versionMinor: number,
    _keepAlive: boolean,
    _upgrade: boolean,
  ): number {
    if (this.done) return 1;
    const client = this.conn.socket;
    if (status < 200 && status !== 101) {
      // Informational answers go to HTTP/1.1 clients; 100 only to one that asked for it.
      if (this.clientMinor === 1 && (status !== 100 || this.head_.expectContinue)) {
        client.write(renderInformational(status, message, headers));
      }
      return 1;
    }
    if (status === 101) {
      if (this.kind !== "upgrade") {
        this.onUpstreamFailure("E101", "switched protocols without being asked");
        return 1;
      }
      this.status = 101;
      this.responseStarted = true;
      client.write(renderSwitching(message, headers));
      (this.upstream as UpstreamConn).upgraded = true;
      return 2;
    }
    this.status = status;
    const r = renderResponseHead(
      status,
      message,
      headers,
      this.method,
      this.clientMinor,
      // After an Upgrade request the parser stopped reading the client: no further request.
      !this.clientKeepAlive ||
        this.conn.closing ||
        this.conn.ctx.draining ||
        this.kind !== "forward",
      this.conn.ctx.options.viaToken,
    );
    this.closeAfter = r.closeAfter;
    this.responseChunked = r.chunked;
    // The head waits for the body bytes of the same read (upstream.ts uncorks after each read).
    client.cork();
    client.write(r.text);
    this.responseStarted = true;
    return r.noBody ? 1 : 0;
  }

  /**
   * The common head (head-scan.ts): its own bytes go on, less the hop-by-hop lines, with
   * our Via and Connection; the same head renderResponseHead would write, field for field.
   */
  onScannedResponse(chunk: Buffer, head: ScannedResponse): boolean {
    if (this.done || this.method === "HEAD" || this.kind !== "forward") return false;
    this.status = head.status;
    const closeAfter = !this.clientKeepAlive || this.conn.closing || this.conn.ctx.draining;
    this.closeAfter = closeAfter;
    this.responseChunked = false;
    const client = this.conn.socket;
    // The head waits for the body bytes of the same read (upstream.ts uncorks after each read).
    client.cork();
    const cuts = head.cuts;
    let from = 0;
    for (let i = 0; i < cuts.length; i += 2) {
      const start = cuts[i] as number;
      if (start > from) client.write(chunk.subarray(from, start));
      from = cuts[i + 1] as number;
    }
    if (head.linesEnd > from) client.write(chunk.subarray(from, head.linesEnd));
    client.write(responseTail(this.conn.ctx.options.viaToken, closeAfter, this.clientMinor));
    this.responseStarted = true;
    return true;
  }

  onResponseBody(chunk: Buffer): void {
    if (this.done) return;
    const client = this.conn.socket;
    let ok: boolean;
    if (this.responseChunked) {
      client.cork();
      client.write(`${chunk.length.toString(16)}\r\n`);
      client.write(chunk);
      client.write("\r\n");
      ok = client.uncork();
    } else ok = client.write(chunk);
    if (!ok) (this.upstream as UpstreamConn).socket.pause();
  }

  /** The client socket drained: let the upstream send again. */
  onClientDrain(): void {
    const u = this.upstream;
    if (!this.done && u !== undefined && u.socket.isPaused()) u.socket.resume();
  }

  onUpstreamDrain(): void {
    this.conn.resumeFor(PAUSE_UPSTREAM);
  }

  onResponseComplete(trailers: RawHeaders | undefined): void {
    if (this.done) return;
    if (this.responseChunked) {
      this.conn.socket.write(`0\r\n${trailers ? trailerLines(trailers) : ""}\r\n`);
    }
    const u = this.upstream as UpstreamConn;
    this.upstream = undefined;
    u.release(this.requestSent && this.kind === "forward");
    // A request whose body did not arrive in full leaves the client connection unusable.
    this.finish(this.closeAfter || !this.requestComplete);
  }

  onUpstreamFailure(code: string, detail: string): void {
    if (this.done) return;
    const u = this.upstream;
    this.upstream = undefined;
    u?.destroy();
    if (this.responseStarted) {
      // Part of the answer is out: cutting the client connection is the only honest signal.
      this.done = true;
      this.conn.abort("upstream-reset");
      this.publishRequest();
      return;
    }
    if (
      u !== undefined &&
      u.served > 0 &&
      !this.retried &&
      this.head_.bodyKind === BODY_NONE &&
      idempotent.has(this.method)
    ) {
      // A pooled connection the server closed while we picked it: try once on a new one.
      this.retried = true;
      this.headWritten = false;
      this.requestSent = false;
      this.acquire();
      return;
    }
    this.upstreamError(code.startsWith("HPE_") ? "other" : "reset", code);
    this.reject(noAnswerReject(`"${this.destination}"`, code, detail));
  }

  private upstreamError(kind: "other" | "reset" | "timeout", code: string): void {
    const { destination, address } = this;
    publishUpstreamError({ mode: "http-proxy", destination, address, kind, message: code });
  }

  /** The sweeper: no byte from or to the upstream for the idle time. */
  checkUpstream(now: number): void {
    const u = this.upstream;
    if (u !== undefined && now - u.lastActivity > this.conn.ctx.options.idleTimeoutMs) {
      this.onUpstreamTimeout();
    }
  }

  onUpstreamTimeout(): void {
    if (this.done) return;
    const ms = this.conn.ctx.options.idleTimeoutMs;
    if (this.responseStarted) return this.onUpstreamFailure("ETIMEDOUT", "idle");
    const u = this.upstream;
    this.upstream = undefined;
    u?.destroy();
    if (!this.requestComplete) {
      // The upstream waits for the rest of a body the client stopped sending: the client's fault.
      this.conn.endReason = "idle-timeout";
      return this.reject(bodyStalledReject(ms));
    }
    this.upstreamError("timeout", "ETIMEDOUT");
    this.reject(silentUpstreamReject(`"${this.destination}"`, ms));
  }

  onUpgraded(rest: Buffer): void {
    const u = this.upstream as UpstreamConn;
    this.upstream = undefined;
    this.done = true;
    this.publishRequest();
    this.conn.upgradeToTunnel(this, u, rest);
  }

  /** Refuses the request with a complete answer and closes the client connection. */
  reject(r: Reject): void {
    if (this.done) return;
    this.status = r.status;
    this.done = true;
    const u = this.upstream;
    this.upstream = undefined;
    u?.destroy();
    this.publishRequest();
    this.conn.rejectAndClose(r);
  }

  /** The client went away: stop everything, answer nobody. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    const u = this.upstream;
    this.upstream = undefined;
    u?.destroy();
  }

  private finish(close: boolean): void {
    this.done = true;
    this.publishRequest();
    this.conn.exchangeDone(this, close);
  }

  private publishRequest(): void {
    this.conn.ctx.totals.requests++;
    if (channels.request.hasSubscribers) {
      publishRequest({
        mode: "http-proxy",
        method: this.method,
        status: this.status,
        seconds: (performance.now() - this.startedAt) / 1000,
      });
    }
  }
}

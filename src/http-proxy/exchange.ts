// One forwarded request (absolute-form) and its response, or an Upgrade request that may
// turn into a tunnel. The request head is checked, the destination decided and resolved,
// an upstream connection taken from the pool or dialed to a checked address, then bodies
// stream both ways with backpressure: nothing is buffered beyond one read.
//
// Framing is ours on both hops: a Content-Length body is passed through, a chunked one is
// re-chunked, a close-delimited response becomes chunked for HTTP/1.1 clients. Hop-by-hop
// fields never cross.
import { dial, DialError } from "../net/dial.ts";
import { channels, publishRequest, publishUpstreamError } from "../observe/events.ts";
import { hostForAuthority } from "../policy/canonical-host.ts";
import type { ClientConnection } from "./client-connection.ts";
import {
  H_CONTENT_LENGTH,
  H_EXPECT,
  H_HOST,
  H_TRANSFER_ENCODING,
  H_UPGRADE,
  H_VIA,
  connectionListedNames,
  endToEndLines,
  headerClass,
  trailerLines,
} from "./headers.ts";
import type { RawHeaders } from "./llhttp.ts";
import type { PolicyState } from "./proxy-context.ts";
import { connectReject, seconds, type Reject } from "./reject.ts";
import { parseAbsoluteTarget, quoted, type ForwardTarget } from "./request-target.ts";
import { route, type RouteOutcome } from "./route.ts";
import { UpstreamConn, type UpstreamUser } from "./upstream.ts";

const BODY_NONE = 0;
const BODY_LENGTH = 1;
const BODY_CHUNKED = 2;

/** header lines in one request; more is an abuse, not a browser (431) */
export const MAX_HEADER_FIELDS = 256;

const idempotent = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

export type ExchangeKind = "forward" | "connect" | "upgrade";

/** What a client connection queues: a forwarded request, an Upgrade, or a CONNECT. */
export interface ProxyRequest {
  readonly done: boolean;
  readonly responseStarted: boolean;
  /** bytes that followed a CONNECT or Upgrade head in the same read */
  head: Buffer | undefined;
  begin(): void;
  onRequestBody(chunk: Buffer): void;
  onRequestComplete(): void;
  onClientDrain(): void;
  abort(): void;
  readonly destination: string;
  readonly address: string | undefined;
  readonly ruleLine: number | undefined;
}

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

  private bodyKind = BODY_NONE;
  private contentLength = "";
  private expectContinue = false;
  private upgradeValue = "";
  private listed: Set<string> | undefined = undefined;
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

  /** Checks the request head; a Reject when it cannot be forwarded as it is. */
  private checkHead(): Reject | undefined {
    const h = this.headers;
    if (h.length / 2 > MAX_HEADER_FIELDS) {
      return {
        status: 431,
        message: `Cannot read the request: more than ${MAX_HEADER_FIELDS} header fields`,
      };
    }
    let hosts = 0;
    let te: string | undefined;
    for (let i = 0; i < h.length; i += 2) {
      const cls = headerClass(h[i] ?? "");
      if (cls === 0) continue;
      const value = h[i + 1] ?? "";
      if (cls === H_HOST) hosts++;
      else if (cls === H_CONTENT_LENGTH) this.contentLength = value;
      else if (cls === H_TRANSFER_ENCODING) te = te === undefined ? value : `${te}, ${value}`;
      else if (cls === H_EXPECT && this.clientMinor === 1) {
        if (value.trim().toLowerCase() !== "100-continue") {
          return {
            status: 417,
            message: `Cannot meet "Expect: ${quoted(value).slice(1, -1)}": only 100-continue is known`,
          };
        }
        this.expectContinue = true;
      } else if (cls === H_VIA && value.includes(this.conn.ctx.options.viaToken)) {
        return {
          status: 508,
          message: `Cannot forward ${quoted(this.url)}: the request has already passed through this proxy (forwarding loop)`,
        };
      } else if (cls === H_UPGRADE) this.upgradeValue = value;
    }
    if (hosts > 1) {
      return { status: 400, message: "Cannot read the request: more than one Host header" };
    }
    if (hosts === 0 && this.clientMinor === 1) {
      return { status: 400, message: "Cannot read the request: HTTP/1.1 requires a Host header" };
    }
    if (te !== undefined) {
      if (te.trim().toLowerCase() !== "chunked") {
        return {
          status: 501,
          message: `Cannot forward "Transfer-Encoding: ${quoted(te).slice(1, -1)}": only chunked is supported`,
        };
      }
      this.bodyKind = BODY_CHUNKED;
    } else if (this.contentLength !== "" && this.contentLength !== "0") {
      this.bodyKind = BODY_LENGTH;
    }
    this.listed = connectionListedNames(h);
    return undefined;
  }

  /** Called when this exchange becomes the connection's active one. */
  begin(): void {
    const bad = this.checkHead();
    if (bad !== undefined) return this.reject(bad);
    const t = parseAbsoluteTarget(this.url);
    if ("problem" in t) return this.reject({ status: 400, message: t.problem });
    this.target = t;
    this.destination = `${hostForAuthority(t.host)}:${t.port}`;
    if (this.bodyKind !== BODY_NONE && !this.requestComplete) this.conn.pauseFor(PAUSE_WAIT);
    this.policy = this.conn.ctx.policy;
    route(this.conn.ctx, this.policy, this, { host: t.host, port: t.port, connect: false }, (o) =>
      this.routed(o),
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
    const hostKey = t.host.kind === "name" ? t.host.name : t.host.address;
    const key = `${this.policy?.generation ?? 0}|${hostKey}|${t.port}`;
    // An Upgrade takes its connection for good: always a fresh one, never pooled.
    const pooled = this.kind === "forward" && !this.retried ? ctx.pool.take(key) : undefined;
    if (pooled !== undefined) return this.use(pooled);
    dial({
      addresses: this.addresses,
      port: t.port,
      timeoutMs: ctx.options.connectTimeoutMs,
      mode: "http-proxy",
    }).then(
      (socket) => {
        const u = new UpstreamConn(socket, key);
        if (this.done) return u.destroy();
        ctx.pool.adopt(u);
        this.use(u);
      },
      (err: unknown) => {
        if (this.done) return;
        const e = err instanceof DialError ? err : new DialError("other", String(err), "");
        publishUpstreamError({
          mode: "http-proxy",
          destination: this.destination,
          address: this.addresses[0],
          kind: e.failure,
          message: e.code,
        });
        this.reject(
          connectReject(`"${this.destination}"`, e.failure, e.code, ctx.options.connectTimeoutMs),
        );
      },
    );
  }

  private use(u: UpstreamConn): void {
    const t = this.target as ForwardTarget;
    const o = this.conn.ctx.options;
    this.upstream = u;
    this.address = u.address;
    u.attach(this, o.idleTimeoutMs, this.conn.socket);
    let framing = "";
    // "Content-Length: 0" goes on too: some servers want a length on every POST (411).
    if (this.bodyKind === BODY_LENGTH || this.contentLength === "0") {
      framing = `Content-Length: ${this.contentLength}\r\n`;
    } else if (this.bodyKind === BODY_CHUNKED) framing = "Transfer-Encoding: chunked\r\n";
    if (this.kind === "upgrade")
      framing += `Connection: Upgrade\r\nUpgrade: ${this.upgradeValue}\r\n`;
    const head =
      `${this.method} ${t.path} HTTP/1.1\r\nHost: ${t.authority}\r\n` +
      endToEndLines(this.headers, this.listed, this.clientMinor === 1) +
      `${framing}Via: 1.1 ${o.viaToken}\r\n\r\n`;
    const s = u.socket;
    s.cork();
    s.write(head, "latin1");
    this.headWritten = true;
    const pending = this.pending;
    this.pending = undefined;
    if (pending !== undefined) for (const c of pending) this.writeBody(c);
    if (this.requestComplete) this.endBody();
    s.uncork();
    if (this.kind === "upgrade") return; // the client socket stays paused until the answer
    if (s.writableNeedDrain) this.conn.pauseFor(PAUSE_UPSTREAM);
    this.conn.resumeFor(PAUSE_WAIT);
  }

  /** A piece of the client's request body (already de-chunked by the parser). */
  onRequestBody(chunk: Buffer): void {
    if (this.done) return;
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
    const s = (this.upstream as UpstreamConn).socket;
    if (this.bodyKind !== BODY_CHUNKED) return s.write(chunk);
    s.write(`${chunk.length.toString(16)}\r\n`);
    s.write(chunk);
    return s.write("\r\n");
  }

  private endBody(): void {
    if (this.bodyKind === BODY_CHUNKED) (this.upstream as UpstreamConn).socket.write("0\r\n\r\n");
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
      if (this.clientMinor === 1 && (status !== 100 || this.expectContinue)) {
        client.write(
          `HTTP/1.1 ${status} ${message}\r\n${endToEndLines(headers, undefined, false)}\r\n`,
          "latin1",
        );
      }
      return 1;
    }
    if (status === 101) {
      if (this.kind !== "upgrade") {
        this.onUpstreamFailure("E101", "switched protocols without being asked");
        return 1;
      }
      let upgrade = "";
      for (let i = 0; i < headers.length; i += 2) {
        if (headerClass(headers[i] ?? "") === H_UPGRADE) upgrade = headers[i + 1] ?? "";
      }
      this.status = 101;
      this.responseStarted = true;
      client.write(
        `HTTP/1.1 101 ${message}\r\n${endToEndLines(headers, undefined, false)}Connection: Upgrade\r\nUpgrade: ${upgrade}\r\n\r\n`,
        "latin1",
      );
      (this.upstream as UpstreamConn).upgraded = true;
      return 2;
    }
    this.status = status;
    let cl: string | undefined;
    for (let i = 0; i < headers.length; i += 2) {
      if (headerClass(headers[i] ?? "") === H_CONTENT_LENGTH) cl = headers[i + 1];
    }
    const noBody = this.method === "HEAD" || status === 204 || status === 304;
    // The parser stopped reading the client after an Upgrade request: no further request.
    this.closeAfter =
      !this.clientKeepAlive ||
      this.conn.closing ||
      this.conn.ctx.draining ||
      this.kind !== "forward";
    let framing = "";
    if (cl !== undefined && status !== 204) framing = `Content-Length: ${cl}\r\n`;
    else if (!noBody) {
      if (this.clientMinor === 1) {
        this.responseChunked = true;
        framing = "Transfer-Encoding: chunked\r\n";
      } else this.closeAfter = true;
    }
    const connection = this.closeAfter
      ? "Connection: close\r\n"
      : this.clientMinor === 0
        ? "Connection: keep-alive\r\n"
        : "";
    client.cork();
    client.write(
      `HTTP/1.1 ${status} ${message}\r\n${endToEndLines(headers, connectionListedNames(headers), false)}${framing}Via: 1.1 ${this.conn.ctx.options.viaToken}\r\n${connection}\r\n`,
      "latin1",
    );
    process.nextTick(uncork, client);
    this.responseStarted = true;
    return noBody ? 1 : 0;
  }

  onResponseBody(chunk: Buffer): void {
    if (this.done) return;
    const client = this.conn.socket;
    let ok: boolean;
    if (this.responseChunked) {
      client.write(`${chunk.length.toString(16)}\r\n`);
      client.write(chunk);
      ok = client.write("\r\n");
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
      this.conn.socket.write(`0\r\n${trailers ? trailerLines(trailers) : ""}\r\n`, "latin1");
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
      this.bodyKind === BODY_NONE &&
      idempotent.has(this.method)
    ) {
      // A pooled connection the server closed while we picked it: try once on a new one.
      this.retried = true;
      this.headWritten = false;
      this.requestSent = false;
      this.acquire();
      return;
    }
    publishUpstreamError({
      mode: "http-proxy",
      destination: this.destination,
      address: this.address,
      kind: code.startsWith("HPE_") ? "other" : "reset",
      message: code,
    });
    const why = code.startsWith("HPE_")
      ? `the upstream sent a malformed response: ${detail} (${code})`
      : `the upstream closed the connection before answering (${code})`;
    this.reject({
      status: 502,
      message: `Cannot get an answer from "${this.destination}": ${why}`,
    });
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
      return this.reject({
        status: 408,
        message: `Cannot read the request body: nothing received for ${seconds(ms)}`,
      });
    }
    publishUpstreamError({
      mode: "http-proxy",
      destination: this.destination,
      address: this.address,
      kind: "timeout",
      message: "ETIMEDOUT",
    });
    this.reject({
      status: 504,
      message: `Cannot get an answer from "${this.destination}": nothing received for ${seconds(ms)}`,
    });
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

function uncork(s: { uncork(): void }): void {
  s.uncork();
}

/** Why the client socket is paused (ClientConnection.paused bits). */
export const PAUSE_PIPELINE = 1;
export const PAUSE_UPSTREAM = 2;
export const PAUSE_WAIT = 4;
export const PAUSE_TUNNEL = 8;

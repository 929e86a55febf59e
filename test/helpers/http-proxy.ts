// Real servers and clients around an in-process HTTP proxy, on loopback only: the proxy
// itself, origin servers that record what reached them, a TLS origin with a certificate
// made for the test, raw-socket clients for the attacks no polite client sends, and a
// capture of the proxy's diagnostics events. Everything is closed when the test ends.
import { execFileSync } from "node:child_process";
import diagnostics_channel from "node:diagnostics_channel";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { parseHttpRules } from "../../src/config/http-rules.ts";
import { createResolver } from "../../src/net/resolver.ts";
import { compileHttpPolicy, type PortRange } from "../../src/policy/http-policy.ts";
import type { HttpProxyOptions } from "../../src/http-proxy/proxy-context.ts";
import { createHttpProxy, type HttpProxy } from "../../src/http-proxy/proxy-server.ts";

export interface ProxyFixture {
  readonly proxy: HttpProxy;
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
}

export interface ProxyOverrides extends Partial<Omit<HttpProxyOptions, "policy" | "resolver">> {
  readonly dnsServers?: string[];
  readonly dnsCacheMs?: number;
  readonly connectPorts?: PortRange[];
  readonly host?: string;
}

export function policyOf(rules: string, connectPorts?: PortRange[]) {
  const parsed = parseHttpRules(rules);
  if (parsed.problems.length > 0) throw new Error(parsed.problems[0]?.message);
  return compileHttpPolicy(parsed.rules, { connectPorts });
}

/** An in-process proxy on 127.0.0.1:0 with test-friendly limits; closed when the test ends. */
export async function startProxy(
  t: TestContext,
  rules: string,
  o: ProxyOverrides = {},
): Promise<ProxyFixture> {
  const proxy = createHttpProxy({
    policy: policyOf(rules, o.connectPorts),
    resolver: createResolver({
      servers: o.dnsServers ?? [],
      cacheMs: o.dnsCacheMs ?? 0,
      timeoutMs: o.resolveTimeoutMs ?? 2000,
    }),
    audit: o.audit ?? false,
    resolveTimeoutMs: o.resolveTimeoutMs ?? 2000,
    connectTimeoutMs: o.connectTimeoutMs ?? 2000,
    headerTimeoutMs: o.headerTimeoutMs ?? 10_000,
    keepAliveTimeoutMs: o.keepAliveTimeoutMs ?? 30_000,
    idleTimeoutMs: o.idleTimeoutMs ?? 30_000,
    maxConnections: o.maxConnections ?? 1000,
    maxHeaderBytes: o.maxHeaderBytes ?? 32 * 1024,
    viaToken: o.viaToken ?? "egress-router-test",
    listenerName: o.listenerName ?? "test",
  });
  const host = o.host ?? "127.0.0.1";
  const a = await proxy.listen({ host, port: 0, reusePort: false });
  t.after(() => proxy.close(0));
  const h = host.includes(":") ? `[${host}]` : host;
  return { proxy, port: a.port, url: `http://${h}:${a.port}` };
}

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly body: Buffer;
  readonly remotePort: number;
}

export interface Origin {
  readonly server: http.Server;
  readonly port: number;
  readonly seen: SeenRequest[];
  /** TCP connections the origin accepted */
  connections: number;
}

/**
 * An HTTP origin on `host`:0. Without a handler it answers 200 with a JSON echo of what it
 * received; a handler gets the request after its body was read.
 */
export async function startOrigin(
  t: TestContext,
  handler?: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void,
  host = "127.0.0.1",
  port = 0,
): Promise<Origin> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
        remotePort: req.socket.remotePort ?? 0,
      });
      if (handler) return handler(req, res, body);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ method: req.method, url: req.url, bytes: body.length }));
    });
  });
  const origin: Origin = { server, port: 0, seen, connections: 0 };
  server.on("connection", (s: net.Socket) => {
    origin.connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.listen(port, host);
  await once(server, "listening");
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return Object.assign(origin, { port: (server.address() as net.AddressInfo).port });
}

const certs = new Map<string, string>();

/**
 * A self-signed certificate for `names` (DNS names and IP addresses), made once per test
 * process with openssl; default: tls.proxy.test and 127.0.0.1.
 */
export function testCertificate(names: readonly string[] = ["tls.proxy.test", "127.0.0.1"]): {
  key: Buffer;
  cert: Buffer;
  certPath: string;
  keyPath: string;
} {
  const id = names.join(",");
  let dir = certs.get(id);
  if (dir === undefined) {
    const made = mkdtempSync(join(tmpdir(), "egress-router-cert-"));
    dir = made;
    certs.set(id, made);
    process.on("exit", () => rmSync(made, { recursive: true, force: true }));
    const san = names.map((n) => (net.isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(made, "key.pem"),
        "-out",
        join(made, "cert.pem"),
        "-days",
        "1",
        "-subj",
        `/CN=${names[0] ?? "test"}`,
        "-addext",
        `subjectAltName=${san}`,
      ],
      { stdio: "ignore" },
    );
  }
  return {
    key: readFileSync(join(dir, "key.pem")),
    cert: readFileSync(join(dir, "cert.pem")),
    certPath: join(dir, "cert.pem"),
    keyPath: join(dir, "key.pem"),
  };
}

/** An HTTPS origin on 127.0.0.1:0 answering "secure <method> <url>". */
export async function startTlsOrigin(t: TestContext): Promise<{ port: number; certPath: string }> {
  const { key, cert, certPath } = testCertificate();
  const sockets = new Set<net.Socket>();
  const server = https.createServer({ key, cert }, (req, res) => {
    req.resume();
    req.on("end", () => res.end(`secure ${req.method} ${req.url}\n`));
  });
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, certPath };
}

export interface RawResult {
  /** everything the proxy sent, as latin1 text */
  readonly text: string;
  /** how the connection ended: "end" (FIN), "reset", or "timeout" (still open) */
  readonly ended: "end" | "reset" | "timeout";
}

/** Sends raw bytes to the proxy and collects the answer until it closes (or `waitMs`). */
export async function rawExchange(
  port: number,
  bytes: string | Buffer | (string | Buffer)[],
  o: { waitMs?: number; halfClose?: boolean; pauseMs?: number } = {},
): Promise<RawResult> {
  const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  await once(socket, "connect");
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  let over = false;
  const ended = new Promise<"end" | "reset" | "timeout">((resolve) => {
    socket.on("error", () => resolve("reset"));
    socket.on("end", () => resolve("end"));
    setTimeout(() => resolve("timeout"), o.waitMs ?? 3000).unref();
  }).finally(() => (over = true));
  for (const part of Array.isArray(bytes) ? bytes : [bytes]) {
    if (socket.destroyed || over) break;
    socket.write(part);
    if (o.pauseMs) await new Promise((r) => setTimeout(r, o.pauseMs));
  }
  if (o.halfClose) socket.end();
  const how = await ended;
  socket.destroy();
  return { text: Buffer.concat(chunks).toString("latin1"), ended: how };
}

/** The status code of the first response in `text`. */
export function statusOf(text: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
}

/** A header of the first response in `text` (case-insensitive), or undefined. */
export function headerOf(text: string, name: string): string | undefined {
  const head = text.split("\r\n\r\n")[0] ?? "";
  for (const line of head.split("\r\n").slice(1)) {
    const i = line.indexOf(":");
    if (line.slice(0, i).toLowerCase() === name.toLowerCase()) return line.slice(i + 1).trim();
  }
  return undefined;
}

/** Collects the messages published on egress-router channels during the test. */
export function captureEvents<T = Record<string, unknown>>(t: TestContext, name: string): T[] {
  const out: T[] = [];
  const fn = (m: unknown) => out.push(m as T);
  diagnostics_channel.subscribe(`egress-router:${name}`, fn);
  t.after(() => diagnostics_channel.unsubscribe(`egress-router:${name}`, fn));
  return out;
}

/** A raw client connection to the proxy (closed after the test), collecting what it reads. */
export async function openRawClient(
  t: TestContext,
  port: number,
): Promise<{ socket: net.Socket; text: () => string; ended: Promise<unknown> }> {
  const socket = net.connect({ port, host: "127.0.0.1" });
  t.after(() => socket.destroy());
  await once(socket, "connect");
  let text = "";
  socket.setEncoding("latin1");
  socket.on("data", (d: string) => (text += d));
  return { socket, text: () => text, ended: once(socket, "end") };
}

/** A GET through the proxy with node's http client (absolute-form, as http_proxy clients do). */
export function getVia(
  proxyPort: number,
  url: string,
  headers: Record<string, string> = {},
  agent: http.Agent | false = false,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      {
        host: "127.0.0.1",
        port: proxyPort,
        method: "GET",
        path: url,
        headers: { host: u.host, ...headers },
        agent,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

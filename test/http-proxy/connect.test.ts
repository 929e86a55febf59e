// CONNECT tunnels: HTTPS to a real TLS server through curl (-x and https_proxy), node and
// Python, half-close carried across, bytes sent right behind the CONNECT head, the port
// list, and every refusal answered before any tunnel exists.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import net from "node:net";
import { describe, it } from "node:test";
import tls from "node:tls";
import { promisify } from "node:util";
import { startDnsmasq } from "../helpers/dns.ts";
import {
  captureEvents,
  headerOf,
  rawExchange,
  startProxy,
  startTlsOrigin,
  statusOf,
  testCertificate,
} from "../helpers/http-proxy.ts";
import { freePort } from "../helpers/net.ts";
import { startServer } from "../helpers/tcp-peers.ts";

const run = promisify(execFile);
const LOOPBACK = "127.0.0.0/8";

describe("CONNECT: HTTPS to a real TLS server", () => {
  it("curl -x", async (t) => {
    const tlsOrigin = await startTlsOrigin(t);
    const { url } = await startProxy(t, LOOPBACK);
    const { stdout } = await run("curl", [
      "-sS",
      "--cacert",
      tlsOrigin.certPath,
      "-x",
      url,
      `https://127.0.0.1:${tlsOrigin.port}/hello`,
    ]);
    assert.equal(stdout, "secure GET /hello\n");
  });

  it("curl with https_proxy, by name (resolved by the proxy through dnsmasq)", async (t) => {
    const tlsOrigin = await startTlsOrigin(t);
    const dns = await startDnsmasq(t, { "tls.proxy.test": ["127.0.0.1"] });
    // the name resolves to loopback, which only an address or range rule opens
    const { url } = await startProxy(t, LOOPBACK, { dnsServers: [dns.server] });
    const { stdout } = await run(
      "curl",
      ["-sS", "--cacert", tlsOrigin.certPath, `https://tls.proxy.test:${tlsOrigin.port}/by-name`],
      { env: { https_proxy: url, PATH: process.env["PATH"] ?? "" } },
    );
    assert.equal(stdout, "secure GET /by-name\n");
  });

  it("node: CONNECT, then TLS over the tunnel socket", async (t) => {
    const tlsOrigin = await startTlsOrigin(t);
    const { port } = await startProxy(t, LOOPBACK);
    const { cert } = testCertificate();
    const req = http.request({
      host: "127.0.0.1",
      port,
      method: "CONNECT",
      path: `127.0.0.1:${tlsOrigin.port}`,
      agent: false,
    });
    req.end();
    const [res, socket] = (await once(req, "connect")) as [http.IncomingMessage, net.Socket];
    assert.equal(res.statusCode, 200);
    const secure = tls.connect({ socket, ca: cert, servername: "tls.proxy.test" });
    t.after(() => secure.destroy());
    await once(secure, "secureConnect");
    secure.end(`GET /node HTTP/1.1\r\nHost: tls.proxy.test\r\nConnection: close\r\n\r\n`);
    let text = "";
    secure.on("data", (c: Buffer) => (text += c.toString()));
    await once(secure, "end");
    assert.match(text, /^HTTP\/1\.1 200 OK/);
    assert.match(text, /secure GET \/node\n$/);
  });

  it("python: urllib through the proxy", async (t) => {
    const tlsOrigin = await startTlsOrigin(t);
    const { url } = await startProxy(t, LOOPBACK);
    const script = [
      "import ssl, sys, urllib.request",
      "ctx = ssl.create_default_context(cafile=sys.argv[1])",
      "opener = urllib.request.build_opener(urllib.request.ProxyHandler({'https': sys.argv[2]}), urllib.request.HTTPSHandler(context=ctx))",
      "print(opener.open(sys.argv[3], timeout=10).read().decode(), end='')",
    ].join("\n");
    const { stdout } = await run("python3", [
      "-c",
      script,
      tlsOrigin.certPath,
      url,
      `https://127.0.0.1:${tlsOrigin.port}/python`,
    ]);
    assert.equal(stdout, "secure GET /python\n");
  });
});

describe("CONNECT: the tunnel", () => {
  it("half-close crosses both ways: the client's FIN reaches the server, which still answers", async (t) => {
    const server = await startServer(t, (s) => {
      const got: Buffer[] = [];
      s.on("data", (c: Buffer) => got.push(c));
      s.on("end", () => s.end(`got ${Buffer.concat(got).toString()} then FIN; bye`));
    });
    const { port } = await startProxy(t, LOOPBACK);
    const closes = captureEvents(t, "connection-close");
    const c = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    t.after(() => c.destroy());
    await once(c, "connect");
    c.write(`CONNECT 127.0.0.1:${server.port} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
    const [established] = (await once(c, "data")) as [Buffer];
    assert.equal(established.toString(), "HTTP/1.1 200 Connection established\r\n\r\n");
    c.end("ping");
    let text = "";
    c.on("data", (d: Buffer) => (text += d.toString()));
    await once(c, "end");
    assert.equal(text, "got ping then FIN; bye");
    await once(c, "close");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(closes[0]?.["end"], "done");
    assert.equal(closes[0]?.["destination"], `127.0.0.1:${server.port}`);
  });

  it("bytes sent right behind the CONNECT head (same packet) reach the server first", async (t) => {
    const server = await startServer(t, (s) => {
      s.once("data", (c: Buffer) => s.end(`first bytes: ${c.toString()}`));
    });
    const { port } = await startProxy(t, LOOPBACK);
    const r = await rawExchange(
      port,
      `CONNECT 127.0.0.1:${server.port} HTTP/1.1\r\nHost: x\r\n\r\nearly-hello`,
    );
    assert.equal(r.text, "HTTP/1.1 200 Connection established\r\n\r\nfirst bytes: early-hello");
  });

  it("bytes behind a CONNECT head stay intact while other clients' reads go on meanwhile", async (t) => {
    const echoFirst = await startServer(t, (s) => {
      s.once("data", (c: Buffer) => s.end(c));
    });
    const sink = await startServer(t, (s) => s.resume());
    const { port } = await startProxy(t, LOOPBACK);
    // Another client uploads a request body through the same proxy all along: its bytes are
    // read into the same read buffer as the CONNECT heads.
    const busy = net.connect({ port, host: "127.0.0.1" });
    t.after(() => busy.destroy());
    await once(busy, "connect");
    busy.write(
      `POST http://127.0.0.1:${sink.port}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000\r\n\r\n`,
    );
    let streaming = true;
    const junk = Buffer.alloc(64 * 1024, 0x5a);
    const pump = (async () => {
      while (streaming) {
        if (!busy.write(junk)) await once(busy, "drain");
        else await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 0; i < 30; i++) {
      const early = `early-${i}-${"x".repeat(2000)}`;
      const r = await rawExchange(
        port,
        `CONNECT 127.0.0.1:${echoFirst.port} HTTP/1.1\r\nHost: x\r\n\r\n${early}`,
      );
      assert.equal(r.text, `HTTP/1.1 200 Connection established\r\n\r\n${early}`);
    }
    streaming = false;
    busy.destroy();
    await pump.catch(() => undefined);
  });

  it("IPv6: CONNECT [::1]:port to a server on ::1, through a proxy listening on ::1", async (t) => {
    const server = await startServer(t, (s) => s.end("v6 ok"), "::1");
    const { port } = await startProxy(t, "::1", { host: "::1" });
    const c = net.connect({ port, host: "::1" });
    t.after(() => c.destroy());
    await once(c, "connect");
    c.write(`CONNECT [::1]:${server.port} HTTP/1.1\r\nHost: [::1]:${server.port}\r\n\r\n`);
    let text = "";
    c.on("data", (d: Buffer) => (text += d.toString()));
    await once(c, "end");
    assert.equal(text, "HTTP/1.1 200 Connection established\r\n\r\nv6 ok");
  });
});

describe("CONNECT: refusals come before any tunnel", () => {
  const connect = (target: string) => `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`;

  it("a denied destination: 403", async (t) => {
    const { port } = await startProxy(t, "!127.0.0.0/8\n*");
    const r = await rawExchange(port, connect("127.0.0.1:443"));
    assert.equal(statusOf(r.text), 403);
    assert.match(headerOf(r.text, "x-egress-router-error") ?? "", /range-matched: rule line 1/);
  });

  it("a port outside the CONNECT port list: 403 port-not-allowed", async (t) => {
    const server = await startServer(t, (s) => s.end());
    const { port } = await startProxy(t, LOOPBACK, { connectPorts: [{ from: 443, to: 443 }] });
    const r = await rawExchange(port, connect(`127.0.0.1:${server.port}`));
    assert.equal(statusOf(r.text), 403);
    assert.match(
      r.text,
      /port-not-allowed: CONNECT to this port is not in EGRESS_HTTP_PROXY_CONNECT_PORTS/,
    );
    assert.equal(server.sockets.size, 0);
  });

  it("nothing listening: 502", async (t) => {
    const closed = await freePort();
    const { port } = await startProxy(t, LOOPBACK);
    const r = await rawExchange(port, connect(`127.0.0.1:${closed}`));
    assert.equal(statusOf(r.text), 502);
    assert.match(r.text, /connection refused \(ECONNREFUSED\)/);
  });

  for (const [what, target, message] of [
    ["no port", "127.0.0.1", /CONNECT needs host:port/],
    ["unbracketed IPv6", "::1:443", /an IPv6 address must be in brackets/],
    ["a bad port", "127.0.0.1:0", /Cannot use port "0"/],
    ["a bad host", "exa%mple.test:443", /contains a character that is not allowed/],
  ] as const) {
    it(`${what}: 400`, async (t) => {
      const { port } = await startProxy(t, "*");
      const r = await rawExchange(port, connect(target));
      assert.equal(statusOf(r.text), 400);
      assert.match(r.text, message);
    });
  }
});

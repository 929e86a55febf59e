// Every failure gets a complete answer — never a hang, never a silent close: refused and
// silent upstreams, upstreams that break the protocol or die mid-answer, slow and idle
// clients, too many connections.
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { describe, it } from "node:test";
import { startBlackhole } from "../helpers/blackhole.ts";
import {
  captureEvents,
  headerOf,
  openRawClient,
  rawExchange,
  startOrigin,
  startProxy,
  statusOf,
} from "../helpers/http-proxy.ts";
import { freePort } from "../helpers/net.ts";
import { startServer, waitFor } from "../helpers/tcp-peers.ts";

const LOOPBACK = "127.0.0.0/8";
const get = (port: number, path = "/") =>
  `GET http://127.0.0.1:${port}${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

describe("upstream failures", () => {
  it("connection refused: 502 naming the destination", async (t) => {
    const closed = await freePort();
    const { port } = await startProxy(t, LOOPBACK);
    const errors = captureEvents(t, "upstream-error");
    const r = await rawExchange(port, get(closed));
    assert.equal(statusOf(r.text), 502);
    const line = `Cannot connect to "127.0.0.1:${closed}": connection refused (ECONNREFUSED)`;
    assert.equal(headerOf(r.text, "x-egress-router-error"), line);
    assert.ok(r.text.endsWith(`\r\n\r\n${line}\n`), "one-line body");
    assert.equal(headerOf(r.text, "connection"), "close");
    assert.equal(r.ended, "end");
    assert.equal(errors[0]?.["kind"], "refused");
  });

  it("no answer to the connect: 504 after the connect timeout", async (t) => {
    const hole = await startBlackhole(t);
    const { port } = await startProxy(t, LOOPBACK, { connectTimeoutMs: 300 });
    const r = await rawExchange(port, get(hole), { waitMs: 5000 });
    assert.equal(statusOf(r.text), 504);
    assert.match(r.text, /Cannot connect to "127\.0\.0\.1:\d+": no answer after 0\.3 s/);
  });

  it("connected but no answer: 504 after the idle timeout", async (t) => {
    const silent = await startServer(t, (s) => s.on("data", () => undefined));
    const { port } = await startProxy(t, LOOPBACK, { idleTimeoutMs: 300 });
    const r = await rawExchange(port, get(silent.port), { waitMs: 5000 });
    assert.equal(statusOf(r.text), 504);
    assert.match(
      r.text,
      /Cannot get an answer from "127\.0\.0\.1:\d+": nothing received for 0\.3 s/,
    );
  });

  it("the upstream closes without answering: 502", async (t) => {
    const rude = await startServer(t, (s) => s.once("data", () => s.destroy()));
    const { port } = await startProxy(t, LOOPBACK);
    const r = await rawExchange(port, get(rude.port));
    assert.equal(statusOf(r.text), 502);
    assert.match(r.text, /the upstream closed the connection before answering/);
  });

  it("a smuggling-shaped response (Content-Length and chunked): 502, nothing of it reaches the client", async (t) => {
    const bad = await startServer(t, (s) =>
      s.once("data", () =>
        s.write(
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n",
        ),
      ),
    );
    const { port } = await startProxy(t, LOOPBACK);
    const r = await rawExchange(port, get(bad.port));
    assert.equal(statusOf(r.text), 502);
    assert.match(r.text, /the upstream sent a malformed response/);
    assert.equal(r.text.match(/HTTP\/1\.1/g)?.length, 1, "exactly one response");
  });

  it("the upstream dies mid-body: the client connection is cut, not left hanging", async (t) => {
    const dying = await startServer(t, (s) =>
      s.once("data", () => {
        s.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial");
        setTimeout(() => s.destroy(), 50);
      }),
    );
    const { port } = await startProxy(t, LOOPBACK);
    const closes = captureEvents(t, "connection-close");
    const r = await rawExchange(port, get(dying.port));
    assert.equal(statusOf(r.text), 200);
    assert.ok(r.text.endsWith("partial"));
    assert.notEqual(r.ended, "timeout", "the client learns at once");
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(closes[0]?.["end"], "upstream-reset");
  });

  it("a pooled connection the server dropped is retried once on a fresh one (idempotent, no body)", async (t) => {
    let connections = 0;
    const flaky = await startServer(t, (s) => {
      const n = ++connections;
      let requests = 0;
      s.on("data", () => {
        requests++;
        if (n === 1 && requests === 2) return s.destroy(); // the keep-alive race
        s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      });
    });
    const { port } = await startProxy(t, LOOPBACK);
    const r = await rawExchange(
      port,
      get(flaky.port, "/1") +
        get(flaky.port, "/2").replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"),
    );
    const statuses = [...r.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [200, 200]);
    assert.equal(connections, 2);
  });
});

describe("client limits and timeouts", () => {
  it("a request head not complete in time: 408", async (t) => {
    const { port } = await startProxy(t, LOOPBACK, { headerTimeoutMs: 300 });
    const r = await rawExchange(port, "GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\nX-Slow: ", {
      waitMs: 5000,
    });
    assert.equal(statusOf(r.text), 408);
    assert.match(r.text, /Cannot read the request head: not complete after 0\.3 s/);
    assert.equal(r.ended, "end");
  });

  it("half a request head sent right behind a whole request gets 408 in time too", async (t) => {
    // The half head arrives in the same read as the request before it: its time starts there.
    const origin = await startOrigin(t);
    const { port } = await startProxy(t, LOOPBACK, {
      headerTimeoutMs: 300,
      keepAliveTimeoutMs: 30_000,
    });
    const one = `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`;
    const r = await rawExchange(port, one + one.slice(0, 20), { waitMs: 5000 });
    const statuses = [...r.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [200, 408]);
    assert.equal(r.ended, "end");
  });

  it("half a head behind a response still streaming: the response ends whole, then 408", async (t) => {
    // The origin sends its answer in two parts 1.2 s apart; the header time (300 ms) of the
    // half head behind the request runs out in between. The answer must not be cut or mixed
    // with the 408: it finishes, then the 408 follows, then the connection closes.
    const origin = await startOrigin(t, (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "content-length": "10" });
      res.write("first");
      setTimeout(() => res.end("-last"), 1200);
    });
    const { port } = await startProxy(t, LOOPBACK, {
      headerTimeoutMs: 300,
      keepAliveTimeoutMs: 30_000,
    });
    const one = `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`;
    const r = await rawExchange(port, one + one.slice(0, 20), { waitMs: 6000 });
    const [head, rest = ""] = r.text.split("\r\n\r\n", 2);
    assert.match(head ?? "", /^HTTP\/1\.1 200 /);
    assert.ok(rest.startsWith("first-last"), JSON.stringify(r.text));
    assert.match(rest.slice(10), /^HTTP\/1\.1 408 /);
    assert.equal(r.ended, "end");
    assert.equal(origin.seen.length, 1);
  });

  it("a slowloris trickling header bytes still gets 408 (the head time is not reset by activity)", async (t) => {
    const { port } = await startProxy(t, LOOPBACK, { headerTimeoutMs: 500 });
    const parts = ["GET http://127.0.0.1:1/ HTTP/1.1\r\n", ...Array<string>(40).fill("X: y\r\n")];
    const r = await rawExchange(port, parts, { pauseMs: 100, waitMs: 8000 });
    assert.equal(statusOf(r.text), 408);
  });

  it("timeouts never fire early: 408 and 504 come no sooner than the time they name", async (t) => {
    // The sweeper ticks every 500 ms for these timeouts; requests are started at four points
    // of a tick, so a timeout judged against a clock a tick behind would show on most of them.
    const silent = await startServer(t, (s) => s.on("data", () => undefined));
    const timeoutMs = 2000;
    const { port } = await startProxy(t, LOOPBACK, {
      headerTimeoutMs: timeoutMs,
      idleTimeoutMs: timeoutMs,
    });
    const timed = async (delayMs: number, head: string): Promise<[number, string]> => {
      await new Promise((r) => setTimeout(r, delayMs));
      const socket = net.connect(port, "127.0.0.1");
      await once(socket, "connect");
      let text = "";
      socket.setEncoding("utf8").on("data", (d: string) => (text += d));
      const sentAt = performance.now();
      socket.write(head);
      await once(socket, "end");
      const elapsed = performance.now() - sentAt;
      socket.destroy();
      return [elapsed, text];
    };
    const offsets = [0, 125, 250, 375];
    const results = await Promise.all([
      ...offsets.map((ms) => timed(ms, "GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")),
      ...offsets.map((ms) => timed(ms, get(silent.port))),
    ]);
    for (const [i, [elapsed, text]] of results.entries()) {
      assert.equal(statusOf(text), i < offsets.length ? 408 : 504, text);
      assert.match(text, /after 2 s|for 2 s/);
      assert.ok(elapsed >= timeoutMs, `answered after ${elapsed.toFixed(0)} ms: ${text}`);
    }
  });

  it("a request body that stops arriving: 408", async (t) => {
    const origin = await startOrigin(t);
    const { port } = await startProxy(t, LOOPBACK, { idleTimeoutMs: 300 });
    const r = await rawExchange(
      port,
      `POST http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly some`,
      { waitMs: 5000 },
    );
    assert.equal(statusOf(r.text), 408);
    assert.match(r.text, /Cannot read the request body: nothing received for 0\.3 s/);
  });

  it("an idle keep-alive connection is closed after the keep-alive timeout", async (t) => {
    const origin = await startOrigin(t);
    const { port } = await startProxy(t, LOOPBACK, { keepAliveTimeoutMs: 300 });
    const r = await rawExchange(port, get(origin.port), { waitMs: 5000 });
    assert.equal(statusOf(r.text), 200);
    assert.equal(r.ended, "end", "closed by the proxy, not left open");
  });

  it("over the connection limit: 503 on the extra connection, the others keep working", async (t) => {
    const origin = await startOrigin(t);
    const closes = captureEvents(t, "connection-close");
    const { port, proxy } = await startProxy(t, LOOPBACK, { maxConnections: 2 });
    const held: net.Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const s = net.connect({ port, host: "127.0.0.1" });
      await once(s, "connect");
      held.push(s);
    }
    t.after(() => held.forEach((s) => s.destroy()));
    await new Promise((r) => setTimeout(r, 50));
    const r = await rawExchange(port, get(origin.port));
    assert.equal(statusOf(r.text), 503);
    assert.match(r.text, /2 connections are open \(EGRESS_HTTP_PROXY_MAX_CONNECTIONS\)/);
    // the refusal shows: a close line (end "limit", status 503), the status page's count
    assert.deepEqual(
      closes.filter((c) => c["end"] === "limit").map((c) => [c["status"], c["listener"]]),
      [[503, "test"]],
    );
    assert.equal(proxy.stats().refusedAtLimit, 1);
    const first = held[0] as net.Socket;
    first.write(get(origin.port));
    const [chunk] = (await once(first, "data")) as [Buffer];
    assert.equal(statusOf(chunk.toString()), 200);
  });

  it("a client that half-closes after its request still gets the answer", async (t) => {
    const origin = await startOrigin(t);
    const { port } = await startProxy(t, LOOPBACK);
    const r = await rawExchange(port, get(origin.port), { halfClose: true });
    assert.equal(statusOf(r.text), 200);
    assert.equal(r.ended, "end");
  });

  it("a client that half-closes in the middle of its head gets 400", async (t) => {
    const { port } = await startProxy(t, LOOPBACK);
    const r = await rawExchange(port, "GET http://127.0.0.1:1/ HTTP/1.1\r\nHo", {
      halfClose: true,
    });
    assert.equal(statusOf(r.text), 400);
    assert.match(r.text, /closed its side before the request was complete/);
  });
});

describe("a request that completes while the proxy drains", () => {
  it("gets 503 with the reason, not a silent close at the end of the drain", async (t) => {
    const origin = await startOrigin(t);
    const { proxy, port } = await startProxy(t, LOOPBACK);
    const { socket: s, text, ended } = await openRawClient(t, port);
    const head = `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`;
    s.write(head.slice(0, 25));
    await waitFor(() => proxy.stats().readingConnections > 0, 5000, "the half head read");
    const closing = proxy.close(5_000);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    s.write(head.slice(25));
    await ended;
    assert.match(text(), /^HTTP\/1\.1 503 /);
    assert.match(text(), /the proxy is shutting down; send it again/);
    assert.ok(Date.now() - started < 2_000, "answered at once, not at the end of the drain");
    assert.equal(origin.seen.length, 0);
    await closing;
  });
});

describe("a request head still arriving when the drain time is up", () => {
  it("gets 503 before the close", async (t) => {
    const { proxy, port } = await startProxy(t, LOOPBACK);
    const { socket: s, text, ended } = await openRawClient(t, port);
    s.write("GET http://127.0.0.1:1/ HTTP/1.1\r\nHo");
    await waitFor(() => proxy.stats().readingConnections > 0, 5000, "the half head read");
    await proxy.close(300);
    await ended;
    assert.match(text(), /^HTTP\/1\.1 503 /);
    assert.match(text(), /the proxy is shutting down; send it again/);
  });
});

// Absolute-form forwarding through a real proxy to real origins on loopback: what the origin
// receives, keep-alive on both hops, streamed bodies both ways, 100-continue, framing of
// every response shape.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { promisify } from "node:util";
import {
  captureEvents,
  getVia,
  headerOf,
  openRawClient,
  rawExchange,
  startOrigin,
  startProxy,
  statusOf,
} from "../helpers/http-proxy.ts";
import { startServer, waitFor } from "../helpers/tcp-peers.ts";
import { requestParsers } from "../../src/http-proxy/client-events.ts";

const run = promisify(execFile);
const LOOPBACK = "127.0.0.0/8";

describe("forwarding: what the origin receives", () => {
  it("path and query as sent, Host from the URL, hop-by-hop fields removed, no client address added", async (t) => {
    const origin = await startOrigin(t);
    const { port } = await startProxy(t, LOOPBACK);
    const r = await rawExchange(
      port,
      `GET http://127.0.0.1:${origin.port}/a/b%20c?x=1&y=%2F HTTP/1.1\r\n` +
        `Host: wrong.example\r\n` +
        `Connection: keep-alive, X-Hop-Secret\r\n` +
        `X-Hop-Secret: must-not-pass\r\n` +
        `Keep-Alive: timeout=5\r\n` +
        `Proxy-Connection: keep-alive\r\n` +
        `Proxy-Authorization: Basic c2VjcmV0\r\n` +
        `TE: trailers\r\n` +
        `X-End-To-End: kept\r\n` +
        `\r\n` +
        `GET http://127.0.0.1:${origin.port}/second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(statusOf(r.text), 200, r.text);
    const seen = origin.seen[0];
    assert.ok(seen);
    assert.equal(seen.url, "/a/b%20c?x=1&y=%2F");
    assert.equal(seen.headers.host, `127.0.0.1:${origin.port}`);
    assert.equal(seen.headers["x-end-to-end"], "kept");
    for (const gone of [
      "x-hop-secret",
      "keep-alive",
      "proxy-connection",
      "proxy-authorization",
      "te",
      "x-forwarded-for",
      "forwarded",
      "x-real-ip",
    ]) {
      assert.equal(seen.headers[gone], undefined, `${gone} reached the origin`);
    }
    assert.equal(seen.headers.via, "1.1 egress-router-test");
    assert.equal(origin.seen[1]?.url, "/second", "the pipelined second request was served too");
  });

  it("a URL without a path gets /, a query without a path gets /?…", async (t) => {
    const origin = await startOrigin(t);
    const { port } = await startProxy(t, LOOPBACK);
    await rawExchange(
      port,
      `GET http://127.0.0.1:${origin.port} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    await rawExchange(
      port,
      `GET http://127.0.0.1:${origin.port}?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.deepEqual(
      origin.seen.map((s) => s.url),
      ["/", "/?q=1"],
    );
  });

  it("keeps both connections alive: many requests, one client and one upstream connection", async (t) => {
    const origin = await startOrigin(t);
    const { port } = await startProxy(t, LOOPBACK);
    const opened = captureEvents(t, "connection-open");
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    for (let i = 0; i < 5; i++) {
      const r = await getVia(port, `http://127.0.0.1:${origin.port}/n${i}`, {}, agent);
      assert.equal(r.status, 200);
    }
    assert.equal(opened.length, 1, "one client connection to the proxy");
    assert.equal(origin.connections, 1, "one upstream connection, reused from the pool");
    assert.equal(origin.seen.length, 5);
  });
});

describe("forwarding: header bytes cross unchanged", () => {
  it("a header value with obs-text bytes (0x80-0xFF) arrives byte for byte, both ways", async (t) => {
    const raw = await startServer(t, (s) => {
      let got = Buffer.alloc(0);
      s.on("data", (c: Buffer) => {
        got = Buffer.concat([got, c]);
        if (!got.includes("\r\n\r\n")) return;
        const seen = /x-name: ([^\r]*)/i.exec(got.toString("latin1"))?.[1] ?? "";
        s.end(
          Buffer.concat([
            Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Back: caf", "latin1"),
            Buffer.from([0xe9]),
            Buffer.from(`\r\nX-Seen-Hex: ${Buffer.from(seen, "latin1").toString("hex")}\r\n\r\n`),
          ]),
        );
      });
    });
    const { port } = await startProxy(t, LOOPBACK);
    const r = await rawExchange(port, [
      Buffer.concat([
        Buffer.from(
          `GET http://127.0.0.1:${raw.port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Name: Ren`,
        ),
        Buffer.from([0xe9]),
        Buffer.from("\r\n\r\n"),
      ]),
    ]);
    assert.equal(
      headerOf(r.text, "x-seen-hex"),
      Buffer.from("Ren\u00e9", "latin1").toString("hex"),
    );
    assert.equal(headerOf(r.text, "x-back"), "caf\u00e9");
  });
});

describe("forwarding: bodies stream both ways", () => {
  it("an 8 MB upload with Content-Length and an 8 MB download arrive byte-exact", async (t) => {
    const big = randomBytes(8 * 1024 * 1024);
    const digest = createHash("sha256").update(big).digest("hex");
    const origin = await startOrigin(t, (_req, res, body) => {
      res.setHeader("x-upload-sha256", createHash("sha256").update(body).digest("hex"));
      res.setHeader("content-length", big.length);
      res.end(big);
    });
    const { port } = await startProxy(t, LOOPBACK);
    const res = await new Promise<{ status: number; up: string; down: string }>(
      (resolve, reject) => {
        const req = http.request(
          {
            host: "127.0.0.1",
            port,
            method: "POST",
            path: `http://127.0.0.1:${origin.port}/upload`,
            headers: { host: `127.0.0.1:${origin.port}`, "content-length": big.length },
            agent: false,
          },
          (r) => {
            const h = createHash("sha256");
            r.on("data", (c: Buffer) => h.update(c));
            r.on("end", () =>
              resolve({
                status: r.statusCode ?? 0,
                up: String(r.headers["x-upload-sha256"]),
                down: h.digest("hex"),
              }),
            );
          },
        );
        req.on("error", reject);
        // written in pieces, so the proxy sees many reads and must apply backpressure
        for (let i = 0; i < big.length; i += 100_000) req.write(big.subarray(i, i + 100_000));
        req.end();
      },
    );
    assert.equal(res.status, 200);
    assert.equal(res.up, digest, "upload intact");
    assert.equal(res.down, digest, "download intact");
  });

  it("a chunked upload is re-chunked, a chunked download reaches the client whole", async (t) => {
    const origin = await startOrigin(t, (req, res, body) => {
      res.setHeader("x-te", String(req.headers["transfer-encoding"]));
      res.write(body.subarray(0, 10));
      setTimeout(() => res.end(body.subarray(10)), 20);
    });
    const { port } = await startProxy(t, LOOPBACK);
    const r = await rawExchange(
      port,
      [
        `POST http://127.0.0.1:${origin.port}/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
        "5;ext=ignored\r\nhello\r\n",
        "10\r\n, chunked world!\r\n",
        "0\r\n\r\n",
      ],
      { pauseMs: 20 },
    );
    assert.equal(statusOf(r.text), 200, r.text);
    assert.equal(origin.seen[0]?.body.toString(), "hello, chunked world!");
    assert.equal(headerOf(r.text, "x-te"), "chunked");
    assert.equal(headerOf(r.text, "transfer-encoding"), "chunked");
    const body = r.text.split("\r\n\r\n").slice(1).join("\r\n\r\n");
    const decoded = body.replace(/[0-9a-f]+\r\n([\s\S]*?)\r\n/g, "$1");
    assert.equal(decoded, "hello, chunked world!");
  });

  it("a close-delimited response becomes chunked for an HTTP/1.1 client, stays close-delimited for HTTP/1.0", async (t) => {
    const raw = await startServer(t, (s) => {
      s.once("data", () => s.end("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"));
    });
    const { port } = await startProxy(t, LOOPBACK);
    const r11 = await rawExchange(
      port,
      `GET http://127.0.0.1:${raw.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`,
      { waitMs: 1500 },
    );
    assert.equal(headerOf(r11.text, "transfer-encoding"), "chunked");
    assert.match(r11.text, /\r\n\r\nd\r\nuntil the end\r\n0\r\n\r\n$/);
    assert.equal(r11.ended, "timeout", "the HTTP/1.1 client connection stays open");
    const r10 = await rawExchange(port, `GET http://127.0.0.1:${raw.port}/ HTTP/1.0\r\n\r\n`);
    assert.equal(headerOf(r10.text, "connection"), "close");
    assert.equal(headerOf(r10.text, "transfer-encoding"), undefined);
    assert.match(r10.text, /\r\n\r\nuntil the end$/);
    assert.equal(r10.ended, "end");
  });

  it("trailers of a chunked response are passed on", async (t) => {
    const origin = await startOrigin(t, (_req, res) => {
      res.setHeader("trailer", "x-checksum");
      res.write("data");
      res.addTrailers({ "x-checksum": "abc123" });
      res.end();
    });
    const { port } = await startProxy(t, LOOPBACK);
    const r = await rawExchange(
      port,
      `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.match(r.text, /\r\n0\r\nx-checksum: abc123\r\n\r\n$/);
  });
});

describe("forwarding: what the client receives", () => {
  // The origin's answers, by path: the same hop-by-hop fields framed by a length (a head the
  // proxy passes on as bytes, head-scan.ts) and chunked (a head the parser reads), and a
  // length-framed one asking to close the upstream connection.
  const hop =
    "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n" +
    "TE: trailers\r\nTrailer: X-Sum\r\nUpgrade: h2c\r\nProxy-Authenticate: Basic\r\n" +
    "Host: origin.example\r\nVia: 1.0 upstream-cache\r\nX-End: kept\r\n";
  const answers: Record<string, string> = {
    "/length": `HTTP/1.1 200 OK\r\n${hop}Content-Length: 6\r\n\r\nlength`,
    "/chunked": `HTTP/1.1 200 OK\r\n${hop}Transfer-Encoding: chunked\r\n\r\n7\r\nchunked\r\n0\r\n\r\n`,
    "/close": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nclose",
  };

  /** A raw origin answering each bodyless request by its path; counts its connections. */
  async function rawOrigin(
    t: TestContext,
    answer: (path: string) => string,
    closeAfter?: (path: string) => boolean,
  ): Promise<{ port: number; connections: number }> {
    const origin = { port: 0, connections: 0 };
    const raw = await startServer(t, (s) => {
      origin.connections++;
      let got = "";
      s.on("data", (c: Buffer) => {
        got += c.toString("latin1");
        for (let end = got.indexOf("\r\n\r\n"); end >= 0; end = got.indexOf("\r\n\r\n")) {
          const path = got.split(" ")[1] ?? "";
          got = got.slice(end + 4);
          s.write(answer(path));
          if (closeAfter?.(path)) s.end();
        }
      });
    });
    origin.port = raw.port;
    return origin;
  }

  /** The responses in `text`, each as its lower-cased field names and values, and body. */
  function responses(text: string): { fields: [string, string][]; body: string }[] {
    const out: { fields: [string, string][]; body: string }[] = [];
    let rest = text;
    while (rest.length > 0) {
      const end = rest.indexOf("\r\n\r\n");
      assert.ok(end > 0, `no head end in ${JSON.stringify(rest)}`);
      const lines = rest.slice(0, end).split("\r\n");
      assert.equal(lines[0], "HTTP/1.1 200 OK");
      const fields = lines.slice(1).map((l): [string, string] => {
        const i = l.indexOf(":");
        return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
      });
      rest = rest.slice(end + 4);
      const length = fields.find(([n]) => n === "content-length");
      let body: string;
      if (length !== undefined) {
        body = rest.slice(0, Number(length[1]));
        rest = rest.slice(Number(length[1]));
      } else {
        const last = rest.indexOf("0\r\n\r\n");
        body = rest.slice(0, last).replace(/[0-9a-f]+\r\n([\s\S]*?)\r\n/g, "$1");
        rest = rest.slice(last + 5);
      }
      out.push({ fields, body });
    }
    return out;
  }

  it("hop-by-hop fields never reach the client, framed by a length or chunked; the origin's Via comes before ours", async (t) => {
    const raw = await rawOrigin(
      t,
      (path) => answers[path] ?? "HTTP/1.1 500 X\r\nContent-Length: 0\r\n\r\n",
      (path) => path === "/close",
    );
    const { port } = await startProxy(t, LOOPBACK);
    const paths = ["/length", "/chunked", "/length", "/close", "/length", "/chunked"];
    const r = await rawExchange(
      port,
      paths.map(
        (p, i) =>
          `GET http://127.0.0.1:${raw.port}${p} HTTP/1.1\r\nHost: x\r\n` +
          (i === paths.length - 1 ? "Connection: close\r\n\r\n" : "\r\n"),
      ),
      { pauseMs: 30 },
    );
    assert.equal(r.ended, "end", r.text);
    const got = responses(r.text);
    assert.deepEqual(
      got.map((g) => g.body),
      ["length", "chunked", "length", "close", "length", "chunked"],
    );
    for (const [i, g] of got.entries()) {
      const names = g.fields.map(([n]) => n);
      for (const gone of [
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "proxy-authenticate",
        "host",
      ]) {
        assert.ok(
          !names.includes(gone),
          `${gone} reached the client in answer ${i}: ${names.join(",")}`,
        );
      }
      const vias = g.fields.filter(([n]) => n === "via").map(([, v]) => v);
      if (paths[i] === "/close") {
        assert.deepEqual(vias, ["1.1 egress-router-test"]);
      } else {
        assert.deepEqual(vias, ["1.0 upstream-cache", "1.1 egress-router-test"], `answer ${i}`);
        assert.ok(
          g.fields.some(([n, v]) => n === "x-end" && v === "kept"),
          `answer ${i}`,
        );
      }
      const connection = g.fields.filter(([n]) => n === "connection").map(([, v]) => v);
      // The origin's Connection is its own; the client's connection closes only when it asked.
      assert.deepEqual(connection, i === paths.length - 1 ? ["close"] : [], `answer ${i}`);
    }
    assert.equal(
      raw.connections,
      2,
      "the upstream connection was reused until the origin closed it",
    );
  });

  it("a response nobody asked for, behind the answer in the same read, never becomes the answer to the next request", async (t) => {
    // the answer to /a carries a second, forged response in the same write
    const raw = await rawOrigin(t, (path) =>
      path === "/a"
        ? "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"
        : `HTTP/1.1 200 OK\r\nContent-Length: ${path.length - 1}\r\n\r\n${path.slice(1)}`,
    );
    const { port } = await startProxy(t, LOOPBACK);
    const r = await rawExchange(
      port,
      `GET http://127.0.0.1:${raw.port}/a HTTP/1.1\r\nHost: x\r\n\r\n` +
        `GET http://127.0.0.1:${raw.port}/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.doesNotMatch(r.text, /forged/);
    assert.deepEqual(
      responses(r.text).map((g) => g.body),
      ["a", "b"],
      "each request got the origin's answer to it",
    );
    assert.equal(raw.connections, 2, "the connection that sent more than asked was not used again");
  });

  it("a response body the parser is reading is never scanned as a head, even one that starts a read and looks like one", async (t) => {
    const inner = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    const raw = await startServer(t, (s) => {
      s.once("data", () => {
        s.write(
          `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${inner.length.toString(16)}\r\n`,
        );
        setTimeout(() => s.write(inner), 60);
        setTimeout(() => s.end("\r\n0\r\n\r\n"), 120);
      });
    });
    const { port } = await startProxy(t, LOOPBACK);
    const r = await rawExchange(
      port,
      `GET http://127.0.0.1:${raw.port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    const head = r.text.indexOf("\r\n\r\n");
    assert.equal(headerOf(r.text, "transfer-encoding"), "chunked", r.text);
    // the chunks, decoded by their sizes (the body holds "0\r\n\r\n" itself)
    let rest = r.text.slice(head + 4);
    let body = "";
    for (;;) {
      const line = rest.indexOf("\r\n");
      const size = parseInt(rest.slice(0, line), 16);
      assert.ok(line > 0 && size >= 0, `not a chunk: ${JSON.stringify(rest)}`);
      if (size === 0) break;
      body += rest.slice(line + 2, line + 2 + size);
      rest = rest.slice(line + 2 + size + 2);
    }
    assert.equal(body, inner, "the body reached the client as a body");
    assert.equal(rest, "0\r\n\r\n", "and nothing after it");
  });
});

describe("forwarding: pipelined requests", () => {
  it("a POST behind a GET, sent in one write, is answered in order with its body intact", async (t) => {
    const origin = await startOrigin(t, (req, res, body) =>
      res.end(`${req.method} ${body.length}`),
    );
    const { port } = await startProxy(t, LOOPBACK);
    const base = `http://127.0.0.1:${origin.port}`;
    const big = "b".repeat(40_000); // above the size relayed without the parser
    const r = await rawExchange(
      port,
      `GET ${base}/1 HTTP/1.1\r\nHost: x\r\n\r\n` +
        `POST ${base}/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello` +
        `POST ${base}/3 HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\n\r\n${big}` +
        `GET ${base}/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    const bodies = [...r.text.matchAll(/\r\n\r\n([A-Z]+ \d+)/g)].map((m) => m[1]);
    assert.deepEqual(bodies, ["GET 0", "POST 5", `POST ${big.length}`, "GET 0"]);
    assert.deepEqual(
      origin.seen.map((s) => s.url),
      ["/1", "/2", "/3", "/4"],
    );
  });
});

/** `text` cut at the (ascending) offsets `cuts`: the pieces, each sent as its own write. */
function cutAt(text: string, cuts: readonly number[]): string[] {
  const parts: string[] = [];
  let from = 0;
  for (const at of cuts) {
    parts.push(text.slice(from, at));
    from = at;
  }
  parts.push(text.slice(from));
  return parts;
}

describe("forwarding: heads the scan reads and heads the parser reads, mixed", () => {
  it("requests cut at every awkward place arrive whole and in order", async (t) => {
    const origin = await startOrigin(t, (req, res, body) =>
      res.end(`${req.method} ${req.url} ${body.toString()}|`),
    );
    const { port } = await startProxy(t, LOOPBACK);
    const base = `http://127.0.0.1:${origin.port}`;
    const post = (path: string, body: string) =>
      `POST ${base}${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    // whole heads (scanned), a body cut in two, a head cut in two (the parser's), a chunked
    // body (the parser's), then whole heads again
    const stream =
      `GET ${base}/1 HTTP/1.1\r\nHost: x\r\n\r\n` +
      post("/2", "hello") +
      `GET ${base}/3 HTTP/1.1\r\nHost: x\r\n\r\n` +
      `POST ${base}/4 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n` +
      post("/5", "world") +
      `GET ${base}/6 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
    const cuts = [
      stream.indexOf("hello") + 3, // inside the first body
      stream.indexOf("/3 HTTP") + 4, // inside the third head
      stream.indexOf("3\r\nabc") + 4, // inside the chunked body
      stream.indexOf("world") - 2, // inside the fifth head's end
    ];
    const r = await rawExchange(port, cutAt(stream, cuts), { pauseMs: 40 });
    const bodies = [...r.text.matchAll(/\r\n\r\n([A-Z]+ \/\d [a-z]*)\|/g)].map((m) => m[1]);
    assert.deepEqual(bodies, [
      "GET /1 ",
      "POST /2 hello",
      "GET /3 ",
      "POST /4 abc",
      "POST /5 world",
      "GET /6 ",
    ]);
    assert.equal(r.ended, "end");
  });

  it("random streams of requests, cut into reads at random places, arrive whole and in order (seeded)", async (t) => {
    const origin = await startOrigin(t, (req, res, body) =>
      res.end(`${req.method} ${req.url} ${createHash("sha1").update(body).digest("hex")}|`),
    );
    const { port } = await startProxy(t, LOOPBACK);
    const base = `http://127.0.0.1:${origin.port}`;
    let state = 0x5eed;
    const rand = (n: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 8) % n;
    };
    const sha1 = (b: string) => createHash("sha1").update(b, "latin1").digest("hex");
    for (let round = 0; round < 24; round++) {
      let stream = "";
      const expected: string[] = [];
      // where heads and bodies begin: reads are cut there more often than by chance
      const edges: number[] = [];
      const count = 2 + rand(5);
      for (let k = 0; k < count; k++) {
        const path = `/r${round}-${k}`;
        const last = k === count - 1 ? "Connection: close\r\n" : "";
        // every kind of head: scanned (GET, POST with a length), the parser's (chunked,
        // HTTP/1.0-style spellings left aside), with fields of both kinds
        // some bodies look like a request head, to the byte
        const body =
          rand(4) === 0
            ? `GET ${base}/smuggled HTTP/1.1\r\nHost: x\r\n\r\n`
            : "x".repeat(rand(3) === 0 ? rand(5000) : rand(40));
        edges.push(stream.length);
        const extra = rand(2) === 0 ? "Proxy-Connection: keep-alive\r\nX-A: 1\r\n" : "";
        switch (rand(3)) {
          case 0:
            stream += `GET ${base}${path} HTTP/1.1\r\nHost: x\r\n${extra}${last}\r\n`;
            expected.push(`GET ${path} ${sha1("")}`);
            break;
          case 1:
            stream += `POST ${base}${path} HTTP/1.1\r\nHost: x\r\n${extra}Content-Length: ${body.length}\r\n${last}\r\n`;
            edges.push(stream.length);
            stream += body;
            expected.push(`POST ${path} ${sha1(body)}`);
            break;
          default: {
            // (a head-shaped body stays one chunk: its data alone in a read looks like a head)
            const cut = body.startsWith("GET") ? 0 : rand(body.length + 1);
            const chunks = [body.slice(0, cut), body.slice(cut)].filter((c) => c.length > 0);
            stream += `PUT ${base}${path} HTTP/1.1\r\nHost: x\r\n${extra}Transfer-Encoding: chunked\r\n${last}\r\n`;
            for (const c of chunks) {
              stream += `${c.length.toString(16)}\r\n`;
              edges.push(stream.length);
              stream += `${c}\r\n`;
            }
            stream += "0\r\n\r\n";
            expected.push(`PUT ${path} ${sha1(body)}`);
          }
        }
      }
      const cuts = [
        ...new Set(
          Array.from({ length: 1 + rand(6) }, () =>
            rand(2) === 0 ? (edges[rand(edges.length)] as number) : rand(stream.length),
          ).filter((at) => at > 0 && at < stream.length),
        ),
      ];
      cuts.sort((a, b) => a - b);
      const r = await rawExchange(port, cutAt(stream, cuts), { pauseMs: 15 });
      const got = [...r.text.matchAll(/\r\n\r\n([A-Z]+ \/r[\d-]+ [0-9a-f]{40})\|/g)].map(
        (m) => m[1],
      );
      assert.deepEqual(got, expected, `round ${round}, cut at ${cuts.join(",")}`);
      assert.equal(r.ended, "end", `round ${round}`);
    }
  });

  it("bytes behind a request that closes the connection get the parser's 400, never forwarded", async (t) => {
    const origin = await startOrigin(t);
    const { port } = await startProxy(t, LOOPBACK);
    const base = `http://127.0.0.1:${origin.port}`;
    for (const close of ["Connection: close", "Proxy-Connection: close"]) {
      const r = await rawExchange(
        port,
        `GET ${base}/one HTTP/1.1\r\nHost: x\r\n${close}\r\n\r\n` +
          `POST ${base}/two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc`,
      );
      assert.equal(statusOf(r.text), 200, r.text);
      assert.match(r.text, /HTTP\/1\.1 400 [^]*HPE_CLOSED_CONNECTION/, close);
      assert.equal(r.ended, "end");
    }
    assert.deepEqual(
      origin.seen.map((s) => s.url),
      ["/one", "/one"],
      "nothing behind the closing request reached the origin",
    );
  });

  it("a body the parser is reading is never scanned as a request, even one that starts a read and looks like one", async (t) => {
    const origin = await startOrigin(t, (req, res, body) =>
      res.end(`${req.method} ${req.url} ${body.length}|`),
    );
    const { port } = await startProxy(t, LOOPBACK);
    const base = `http://127.0.0.1:${origin.port}`;
    const inner = `GET ${base}/smuggled HTTP/1.1\r\nHost: x\r\n\r\n`;
    const r = await rawExchange(
      port,
      [
        `POST ${base}/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n` +
          `${inner.length.toString(16)}\r\n`,
        // the chunk's data, alone in its read: a whole request head, to the byte
        inner,
        `\r\n0\r\n\r\nGET ${base}/after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      ],
      { pauseMs: 60 },
    );
    assert.deepEqual(
      origin.seen.map((s) => `${s.method} ${s.url} ${s.body.toString()}`),
      [`POST /chunked ${inner}`, "GET /after "],
      "the body reached the origin as a body, never as a request",
    );
    assert.equal(r.ended, "end");
  });
});

describe("forwarding: a malformed request behind a good one", () => {
  it("the good one is answered in full, then the bad one gets its 400", async (t) => {
    const origin = await startOrigin(t, (_req, res) =>
      setTimeout(() => res.end("first, whole"), 50),
    );
    const { port } = await startProxy(t, LOOPBACK);
    const r = await rawExchange(
      port,
      `GET http://127.0.0.1:${origin.port}/ok HTTP/1.1\r\nHost: x\r\n\r\n` +
        `GET http://127.0.0.1:${origin.port}/bad HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n`,
    );
    const statuses = [...r.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [200, 400]);
    assert.match(r.text, /first, whole/);
    assert.equal(r.ended, "end");
    assert.deepEqual(
      origin.seen.map((s) => s.url),
      ["/ok"],
    );
  });

  it("an empty POST keeps its Content-Length: 0", async (t) => {
    const origin = await startOrigin(t);
    const { port } = await startProxy(t, LOOPBACK);
    await rawExchange(
      port,
      `POST http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(origin.seen[0]?.headers["content-length"], "0");
  });
});

describe("forwarding: responses without a body keep the connection in step", () => {
  it("HEAD, 204 and 304, then another request on the same connection", async (t) => {
    const origin = await startOrigin(t, (req, res) => {
      if (req.url === "/204") return res.writeHead(204).end();
      if (req.url === "/304") return res.writeHead(304, { etag: '"v1"' }).end();
      res.setHeader("content-length", 11);
      res.end(req.method === "HEAD" ? undefined : "hello world");
    });
    const { port } = await startProxy(t, LOOPBACK);
    const base = `http://127.0.0.1:${origin.port}`;
    const r = await rawExchange(
      port,
      `HEAD ${base}/h HTTP/1.1\r\nHost: x\r\n\r\n` +
        `GET ${base}/204 HTTP/1.1\r\nHost: x\r\n\r\n` +
        `GET ${base}/304 HTTP/1.1\r\nHost: x\r\n\r\n` +
        `GET ${base}/last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    const statuses = [...r.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [200, 204, 304, 200]);
    assert.match(r.text, /content-length: 11\r\n/i, "HEAD keeps its Content-Length");
    assert.ok(r.text.endsWith("hello world"), "only the last response has a body");
    assert.equal(r.ended, "end");
  });
});

describe("forwarding: Expect: 100-continue", () => {
  it("the origin's 100 Continue reaches curl, then the body streams", async (t) => {
    let expected = "";
    const origin = await startOrigin(t);
    origin.server.on("checkContinue", (req: http.IncomingMessage, res: http.ServerResponse) => {
      expected = String(req.headers.expect);
      res.writeContinue();
      origin.server.emit("request", req, res);
    });
    const { port } = await startProxy(t, LOOPBACK);
    const dir = mkdtempSync(join(tmpdir(), "egress-router-upload-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "body"), randomBytes(300_000));
    const { stdout, stderr } = await run("curl", [
      "-sv",
      "--expect100-timeout",
      "30",
      "-H",
      "Expect: 100-continue",
      "--data-binary",
      `@${join(dir, "body")}`,
      "-x",
      `http://127.0.0.1:${port}`,
      `http://127.0.0.1:${origin.port}/upload`,
    ]);
    assert.equal(expected, "100-continue", "the origin saw the expectation");
    assert.match(stderr, /< HTTP\/1\.1 100 Continue/);
    assert.match(stderr, /< HTTP\/1\.1 200 OK/);
    assert.equal((JSON.parse(stdout) as { bytes: number }).bytes, 300_000);
  });

  it("an origin refusing the expectation answers before the body: the body is never sent", async (t) => {
    const origin = await startOrigin(t);
    origin.server.on("checkContinue", (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(413, { connection: "close" }).end("too big for me\n");
    });
    const { port } = await startProxy(t, LOOPBACK);
    const client = net.connect({ port, host: "127.0.0.1" });
    await once(client, "connect");
    client.write(
      `PUT http://127.0.0.1:${origin.port}/big HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n`,
    );
    let text = "";
    client.on("data", (c: Buffer) => (text += c.toString()));
    await once(client, "end");
    client.destroy();
    assert.equal(statusOf(text), 413);
    assert.match(text, /too big for me/);
  });
});

describe("forwarding: HTTP/1.0 clients", () => {
  it("get keep-alive only when they ask for it", async (t) => {
    const origin = await startOrigin(t);
    const { port } = await startProxy(t, LOOPBACK);
    const plain = await rawExchange(port, `GET http://127.0.0.1:${origin.port}/ HTTP/1.0\r\n\r\n`);
    assert.equal(statusOf(plain.text), 200);
    assert.equal(plain.ended, "end");
    const ka = await rawExchange(
      port,
      `GET http://127.0.0.1:${origin.port}/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`,
      { waitMs: 800 },
    );
    assert.equal(headerOf(ka.text, "connection"), "keep-alive");
    assert.equal(ka.ended, "timeout");
  });
});

describe("forwarding: connections idle between requests hold no parser", () => {
  it("the parser goes back to the pool after a second idle; the next request, split around a sweep, is read as ever", async (t) => {
    const origin = await startOrigin(t);
    const { proxy, port } = await startProxy(t, LOOPBACK);
    const { socket: s, text } = await openRawClient(t, port);
    const answers = () => text().split("HTTP/1.1 200").length - 1;
    const until = (ok: () => boolean, what: string) => waitFor(ok, 10_000, what);
    const head = `GET http://127.0.0.1:${origin.port}/n HTTP/1.1\r\nHost: x\r\n\r\n`;
    const reading = () => proxy.stats().readingConnections;
    await until(() => proxy.stats().activeConnections === 1, "the accept");
    assert.equal(reading(), 0, "a connection that has sent nothing holds no parser");
    s.write(head);
    await until(() => answers() === 1, "the first answer");
    assert.equal(reading(), 0, "a head read whole by the scan (head-scan.ts) takes no parser");
    // half a head, sweeps, the other half: a connection reading a head keeps its parser
    s.write(head.slice(0, 30));
    await until(() => reading() === 1, "the parser taken");
    await new Promise((r) => setTimeout(r, 2_200));
    assert.equal(reading(), 1, "kept while the head is incomplete");
    s.write(head.slice(30));
    await until(() => answers() === 2, "the second answer");
    assert.equal(origin.seen.length, 2);
    assert.equal(origin.seen[1]?.url, "/n");
    // the sweeper runs every second: within three the idle connection gives its parser back
    await until(() => reading() === 0, "the parser given back");
    assert.ok(requestParsers.size > 0, "kept in the pool for the next one");
    // a whole request and half of the next in one write, sweeps, the other half: the half
    // head read behind the first request stays in the parser
    s.write(head + head.slice(0, 30));
    await until(() => answers() === 3, "the third answer");
    await new Promise((r) => setTimeout(r, 2_200));
    assert.equal(reading(), 1, "kept while a pipelined head is incomplete");
    s.write(head.slice(30));
    await until(() => answers() === 4, "the fourth answer");
    assert.doesNotMatch(text(), / 400 /);
    assert.equal(origin.seen.length, 4);
    assert.equal(proxy.stats().activeConnections, 1);
    s.end();
    await until(() => proxy.stats().activeConnections === 0, "the close");
  });
});

// Every byte arrives intact and in order, through tunnels and forwarded bodies: when the
// reader is slow (writes queue up and reading pauses), and when the server speaks before the
// tunnel is set up.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import net from "node:net";
import { describe, it } from "node:test";
import { startOrigin, startProxy } from "../helpers/http-proxy.ts";
import { startServer } from "../helpers/tcp-peers.ts";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Reads everything from `s`, pausing for a few ms every few chunks (a slow client). */
async function slowRead(s: net.Socket, skipHead: boolean): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  s.on("data", (c: Buffer) => {
    chunks.push(c);
    if (++n % 4 === 0) {
      s.pause();
      setTimeout(() => s.resume(), 3);
    }
  });
  await once(s, "end");
  const all = Buffer.concat(chunks);
  return skipHead ? all.subarray(all.indexOf("\r\n\r\n") + 4) : all;
}

describe("byte integrity", () => {
  it("a CONNECT tunnel to a slow reader: 24 MB arrive intact", async (t) => {
    const data = randomBytes(24 * 1024 * 1024);
    const source = await startServer(t, (s) => s.end(data));
    const { port } = await startProxy(t, "127.0.0.0/8");
    const c = net.connect({ port, host: "127.0.0.1" });
    t.after(() => c.destroy());
    await once(c, "connect");
    c.write(`CONNECT 127.0.0.1:${source.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const got = await slowRead(c, true);
    assert.equal(got.length, data.length);
    assert.equal(sha(got), sha(data));
  });

  it("a forwarded 24 MB download to a slow reader arrives intact", async (t) => {
    const data = randomBytes(24 * 1024 * 1024);
    const origin = await startOrigin(t, (_req, res) => res.end(data));
    const { port } = await startProxy(t, "127.0.0.0/8");
    const c = net.connect({ port, host: "127.0.0.1" });
    t.after(() => c.destroy());
    await once(c, "connect");
    c.write(
      `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    const got = await slowRead(c, true);
    assert.equal(sha(got), sha(data));
  });

  it("uploads to a slow reader arrive intact: Content-Length, chunked, and through CONNECT", async (t) => {
    const data = randomBytes(24 * 1024 * 1024);
    /** a server that reads slowly (pausing every few chunks) and answers with the digest */
    const slowSink = (s: net.Socket, answer: (digest: string) => string) => {
      void slowRead(s, false).then((got) => s.end(answer(sha(got))));
    };
    // an origin that reads request bodies slowly, so the proxy's writes to it queue up
    const slowOrigin = http.createServer((req, res) => {
      const hash = createHash("sha256");
      let n = 0;
      req.on("data", (c: Buffer) => {
        hash.update(c);
        if (++n % 4 === 0) {
          req.pause();
          setTimeout(() => req.resume(), 3);
        }
      });
      req.on("end", () => res.end(hash.digest("hex")));
    });
    slowOrigin.listen(0, "127.0.0.1");
    await once(slowOrigin, "listening");
    t.after(() => slowOrigin.close());
    const origin = { port: (slowOrigin.address() as net.AddressInfo).port };
    const tunnelTarget = await startServer(t, (s) => slowSink(s, (d) => d));
    const { port } = await startProxy(t, "127.0.0.0/8");
    // The head and the first body bytes in one write, then the rest in uneven pieces.
    const send = async (head: string, body: Buffer[]) => {
      const c = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
      t.after(() => c.destroy());
      await once(c, "connect");
      const [first, ...rest] = body;
      c.write(Buffer.concat([Buffer.from(head), first ?? Buffer.alloc(0)]));
      for (const b of rest) if (!c.write(b)) await once(c, "drain");
      c.end();
      const chunks: Buffer[] = [];
      c.on("data", (d: Buffer) => chunks.push(d));
      await once(c, "end");
      return Buffer.concat(chunks).toString("latin1");
    };
    const pieces = (b: Buffer) => {
      const out: Buffer[] = [];
      for (let i = 0, n = 1000; i < b.length; i += n, n = ((n * 7) % 300_000) + 1)
        out.push(b.subarray(i, i + n));
      return out;
    };
    const url = `http://127.0.0.1:${origin.port}/`;
    const length = await send(
      `POST ${url} HTTP/1.1\r\nHost: x\r\nContent-Length: ${data.length}\r\nConnection: close\r\n\r\n`,
      pieces(data),
    );
    assert.ok(length.endsWith(sha(data)), length.slice(0, 200));
    const chunked = pieces(data).flatMap((p) => [
      Buffer.from(`${p.length.toString(16)}\r\n`),
      p,
      Buffer.from("\r\n"),
    ]);
    const viaChunks = await send(
      `POST ${url} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
      [...chunked, Buffer.from("0\r\n\r\n")],
    );
    assert.ok(viaChunks.endsWith(sha(data)), viaChunks.slice(0, 200));
    const tunnelled = await send(
      `CONNECT 127.0.0.1:${tunnelTarget.port} HTTP/1.1\r\nHost: x\r\n\r\n`,
      pieces(data),
    );
    assert.equal(tunnelled, `HTTP/1.1 200 Connection established\r\n\r\n${sha(data)}`);
  });

  it("a server that speaks first: its banner waits for the tunnel, after the 200", async (t) => {
    const banner = await startServer(t, (s) => s.write("220 ready\r\n"));
    const { port } = await startProxy(t, "127.0.0.0/8");
    const c = net.connect({ port, host: "127.0.0.1" });
    t.after(() => c.destroy());
    await once(c, "connect");
    c.write(`CONNECT 127.0.0.1:${banner.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    let text = "";
    c.on("data", (d: Buffer) => (text += d.toString()));
    const deadline = Date.now() + 5000;
    while (!text.includes("220 ready") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(text, "HTTP/1.1 200 Connection established\r\n\r\n220 ready\r\n");
  });
});

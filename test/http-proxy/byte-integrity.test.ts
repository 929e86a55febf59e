// Every byte arrives intact and in order, through tunnels and forwarded bodies: when the
// reader is slow (writes queue up and reading pauses), and when the server speaks before the
// tunnel is set up.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
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

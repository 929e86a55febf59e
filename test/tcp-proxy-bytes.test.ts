// The DNS proxy's byte path under stress, over real loopback sockets: every handle of a
// forwarding thread reads into the same buffer, so each chunk must be copied out before the
// next read anywhere in the thread, and a write the kernel does not take at once must keep
// its own copy. These tests mix many connections, chunks of every size, slow readers on
// either side (partial writes, queues, paused reads) and FINs that arrive while writes are
// still queued, and check every byte both ways, with one and with two forwarding threads.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import type { TestContext } from "node:test";
import { describe, it } from "node:test";
import { startServer, waitFor } from "./helpers/tcp-peers.ts";
import { freeTcpPort, recordEvents, rule, startProxy } from "./helpers/tcp-proxy-fixture.ts";

/** Writes `data` in chunks of random sizes (1 byte to `maxChunk`), yielding now and then. */
async function writeInChunks(
  s: net.Socket,
  data: Buffer,
  maxChunk: number,
  end: boolean,
): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const n = Math.min(data.length - off, 1 + Math.floor(Math.random() * maxChunk));
    const more = s.write(data.subarray(off, off + n));
    off += n;
    if (!more) await new Promise((r) => s.once("drain", r));
    else if (Math.random() < 0.2) await new Promise((r) => setImmediate(r));
  }
  if (end) s.end();
}

/**
 * Reads everything until the peer's FIN; when `slow`, stops reading for a while after
 * every `slow.every` bytes, so the proxy's writes to this socket queue up.
 */
function readAll(s: net.Socket, slow?: { every: number; pauseMs: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let sincePause = 0;
    s.on("data", (c: Buffer) => {
      chunks.push(c);
      sincePause += c.length;
      if (slow && sincePause >= slow.every) {
        sincePause = 0;
        s.pause();
        setTimeout(() => s.resume(), slow.pauseMs);
      }
    });
    s.once("end", () => resolve(Buffer.concat(chunks)));
    s.once("error", reject);
    s.once("close", () => reject(new Error("closed before FIN")));
  });
}

/** What each side sends, per connection: distinct random bytes. */
interface Exchange {
  readonly up: Buffer;
  readonly down: Buffer;
  readonly slowClient: boolean;
  readonly slowTarget: boolean;
}

/**
 * A target that learns which exchange a connection is from its first 4 bytes, then sends
 * that exchange's `down` bytes while it reads the `up` bytes (both at once), and records
 * whether `up` arrived exactly.
 */
async function startTarget(
  t: TestContext,
  exchanges: readonly Exchange[],
  maxChunk: number,
): Promise<{ port: number; results: Map<number, boolean> }> {
  const results = new Map<number, boolean>();
  const server = await startServer(
    t,
    (s) => {
      s.on("error", () => undefined);
      let id: number | undefined;
      let head = Buffer.alloc(0);
      const onHead = (c: Buffer): void => {
        head = Buffer.concat([head, c]);
        if (head.length < 4) return;
        s.off("data", onHead);
        id = head.readUInt32BE(0);
        const x = exchanges[id];
        if (x === undefined) {
          s.destroy();
          return;
        }
        const rest = head.subarray(4);
        void readAll(s, x.slowTarget ? { every: 96 * 1024, pauseMs: 30 } : undefined).then(
          (got) => results.set(id as number, Buffer.concat([rest, got]).equals(x.up)),
          () => results.set(id as number, false),
        );
        void writeInChunks(s, x.down, maxChunk, true);
      };
      s.on("data", onHead);
    },
    "127.0.0.2",
  );
  return { port: server.port, results };
}

/** One client of an exchange: id, then `up` in chunks, FIN; collects `down` until FIN. */
async function runClient(port: number, id: number, x: Exchange, maxChunk: number): Promise<Buffer> {
  const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  await new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("error", reject);
  });
  try {
    const received = readAll(s, x.slowClient ? { every: 96 * 1024, pauseMs: 30 } : undefined);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(id, 0);
    s.write(head);
    await writeInChunks(s, x.up, maxChunk, true);
    return await received;
  } finally {
    s.destroy();
  }
}

for (const threads of [1, 2]) {
  describe(`DNS proxy: the byte path through a shared read buffer (${threads} thread${threads > 1 ? "s" : ""})`, () => {
    it("carries many connections at once, chunks of every size both ways, slow readers on either side, byte-exact", async (t) => {
      const events = recordEvents(t);
      // Sizes around the copy thresholds (pool / scratch) and the read buffer's size.
      const sizes = [1, 100, 4095, 4096, 4097, 65_535, 65_536, 65_537, 300_000, 1_500_000];
      const exchanges: Exchange[] = sizes.flatMap((n, i) => [
        {
          up: randomBytes(n),
          down: randomBytes(sizes[(i + 3) % sizes.length] as number),
          slowClient: false,
          slowTarget: false,
        },
        {
          up: randomBytes(n),
          down: randomBytes(n),
          slowClient: i % 2 === 0,
          slowTarget: i % 2 === 1,
        },
        { up: randomBytes(n), down: randomBytes(n), slowClient: true, slowTarget: true },
      ]);
      const target = await startTarget(t, exchanges, 70_000);
      const port = await freeTcpPort();
      await startProxy(t, [rule(1, port, "127.0.0.2", target.port)], { threads });
      const got = await Promise.all(exchanges.map((x, id) => runClient(port, id, x, 70_000)));
      for (const [id, x] of exchanges.entries()) {
        assert.ok(
          got[id]?.equals(x.down),
          `exchange ${id}: to the client (${x.down.length} bytes)`,
        );
      }
      await waitFor(() => target.results.size === exchanges.length, 10_000, "every target done");
      for (const [id, x] of exchanges.entries()) {
        assert.equal(
          target.results.get(id),
          true,
          `exchange ${id}: to the target (${x.up.length} bytes)`,
        );
      }
      if (threads === 1) {
        // Every connection ended normally, with its exact byte counts.
        await waitFor(() => events.closes.length === exchanges.length, 10_000, "every close");
        for (const c of events.closes) assert.equal(c.end, "done");
        const total = (f: (x: Exchange) => Buffer): number =>
          exchanges.reduce((n, x) => n + f(x).length, 0);
        assert.equal(
          events.closes.reduce((n, c) => n + c.bytesFromClient, 0),
          total((x) => x.up) + 4 * exchanges.length,
        );
        assert.equal(
          events.closes.reduce((n, c) => n + c.bytesToClient, 0),
          total((x) => x.down),
        );
      }
    });

    it("keeps a slow receiver's queued bytes intact while other connections reuse the read buffer", async (t) => {
      // One connection whose target reads slowly (its writes queue and its client's reads
      // pause), and meanwhile a stream of short connections with small random messages.
      const big = randomBytes(6 * 1024 * 1024);
      const exchanges: Exchange[] = [
        { up: big, down: randomBytes(10), slowClient: false, slowTarget: true },
      ];
      for (let i = 0; i < 150; i++) {
        exchanges.push({
          up: randomBytes(1 + ((i * 37) % 3000)),
          down: randomBytes(1 + ((i * 53) % 3000)),
          slowClient: false,
          slowTarget: false,
        });
      }
      const target = await startTarget(t, exchanges, 9000);
      const port = await freeTcpPort();
      await startProxy(t, [rule(1, port, "127.0.0.2", target.port)], { threads });
      const slow = runClient(port, 0, exchanges[0] as Exchange, 256 * 1024);
      const small: Promise<Buffer>[] = [];
      for (let i = 1; i < exchanges.length; i++) {
        small.push(runClient(port, i, exchanges[i] as Exchange, 9000));
        if (i % 10 === 0) await Promise.all(small.slice(-10));
      }
      const got = await Promise.all(small);
      for (const [i, g] of got.entries()) {
        assert.ok(g.equals((exchanges[i + 1] as Exchange).down), `small exchange ${i + 1}`);
      }
      assert.ok((await slow).equals((exchanges[0] as Exchange).down));
      await waitFor(() => target.results.size === exchanges.length, 20_000, "every target done");
      for (const [id] of exchanges.entries()) {
        assert.equal(target.results.get(id), true, `exchange ${id}: to the target`);
      }
    });
  });
}

describe("DNS proxy: both sides end while neither reads", () => {
  it("both send megabytes and their FIN before reading: every byte arrives both ways, then a normal close", async (t) => {
    const events = recordEvents(t);
    const up = randomBytes(3 * 1024 * 1024);
    const down = randomBytes(3 * 1024 * 1024);
    let toTarget: Promise<Buffer> | undefined;
    const server = await startServer(
      t,
      (s) => {
        s.on("error", () => undefined);
        // Send everything and end at once; start reading only later.
        s.pause();
        s.end(down);
        toTarget = readAll(s);
        setTimeout(() => s.resume(), 400);
      },
      "127.0.0.2",
    );
    const port = await freeTcpPort();
    await startProxy(t, [rule(1, port, "127.0.0.2", server.port)]);
    const c = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    t.after(() => c.destroy());
    await new Promise((r) => c.once("connect", r));
    c.pause();
    c.end(up);
    const toClient = readAll(c);
    setTimeout(() => c.resume(), 400);
    assert.ok((await toClient).equals(down), "to the client");
    await waitFor(() => toTarget !== undefined, 5000, "target connection");
    assert.ok((await (toTarget as Promise<Buffer>)).equals(up), "to the target");
    await waitFor(() => events.closes.length === 1, 5000, "close");
    assert.deepEqual(
      [events.closes[0]?.end, events.closes[0]?.bytesFromClient, events.closes[0]?.bytesToClient],
      ["done", up.length, down.length],
    );
  });
});

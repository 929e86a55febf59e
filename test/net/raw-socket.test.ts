// RawSocket against real loopback peers: writes in order with backpressure and drain, a
// batch of writes as one, half-close both ways closing the socket, pause and resume, and a
// reset while our FIN is still queued (which libuv refuses) closing the socket anyway.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type net from "node:net";
import type { TestContext } from "node:test";
import { describe, it } from "node:test";
import { dial } from "../../src/net/dial.ts";
import { RawSocket, WRITE_HIGH_WATER, type SocketHandlers } from "../../src/net/raw-socket.ts";
import { peer, sleep, startServer, waitFor } from "../helpers/tcp-peers.ts";
import type { Peer } from "../helpers/tcp-peers.ts";

interface Probe {
  readonly socket: RawSocket;
  readonly got: Buffer[];
  readonly events: string[];
  readonly closed: Promise<void>;
}

async function connect(
  t: TestContext,
  onServer: (s: net.Socket) => void,
): Promise<{ probe: Probe; server: Peer }> {
  let server: Peer | undefined;
  const srv = await startServer(t, (s) => {
    server = peer(s);
    onServer(s);
  });
  const d = await dial({
    addresses: ["127.0.0.1"],
    port: srv.port,
    timeoutMs: 2000,
    mode: "http-proxy",
  });
  const got: Buffer[] = [];
  const events: string[] = [];
  let closed: () => void = () => undefined;
  const handlers: SocketHandlers = {
    data: (c) => got.push(Buffer.from(c)),
    end: () => events.push("end"),
    drain: () => events.push("drain"),
    error: (code) => events.push(`error ${code}`),
    close: () => {
      events.push("close");
      closed();
    },
  };
  const socket = new RawSocket(d.handle, handlers, undefined);
  t.after(() => socket.destroy());
  const probe = { socket, got, events, closed: new Promise<void>((r) => (closed = r)) };
  await waitFor(() => server !== undefined, 5000, "the server side");
  return { probe, server: server as Peer };
}

describe("RawSocket", () => {
  it("writes strings (latin1), UTF-8 and buffers in order; corked writes leave as one batch", async (t) => {
    const { probe, server } = await connect(t, () => undefined);
    const s = probe.socket;
    s.write("caf\u00e9 ");
    s.write("\u00fcber ", "utf8");
    s.cork();
    s.write("one ");
    s.write(Buffer.from("two "));
    s.write("three");
    assert.equal(server.socket.bytesRead, 0 + 0, "nothing of a corked batch leaves before uncork");
    s.uncork();
    s.end();
    const text = await server.received;
    assert.deepEqual(
      text,
      Buffer.concat([Buffer.from("caf\u00e9 ", "latin1"), Buffer.from("\u00fcber one two three")]),
    );
    assert.equal(s.bytesWritten, text.length);
  });

  it("write() says when to wait; drain comes once the queue is written", async (t) => {
    const { probe, server } = await connect(t, (s) => s.pause());
    const chunk = randomBytes(1024 * 1024);
    let accepted = true;
    let written = 0;
    while (accepted && written < 64 * chunk.length) {
      accepted = probe.socket.write(chunk);
      written += chunk.length;
    }
    assert.equal(accepted, false, "a peer that does not read fills the queue");
    assert.ok(probe.socket.writableLength >= WRITE_HIGH_WATER);
    server.socket.resume();
    await waitFor(() => probe.events.includes("drain"), 10_000, "drain");
    assert.equal(probe.socket.writableLength, 0);
  });

  it("half-close: their FIN is reported, ours follows our writes, then it closes by itself", async (t) => {
    const { probe, server } = await connect(t, (s) => s.end("bye"));
    probe.socket.resume();
    await waitFor(() => probe.events.includes("end"), 5000, "their FIN");
    assert.equal(Buffer.concat(probe.got).toString(), "bye");
    probe.socket.write("still talking");
    probe.socket.end();
    await probe.closed;
    assert.equal((await server.received).toString(), "still talking");
    assert.deepEqual(probe.events, ["end", "close"]);
  });

  it("pause stops reading, resume reads again", async (t) => {
    const { probe, server } = await connect(t, () => undefined);
    probe.socket.resume();
    server.socket.write("a");
    await waitFor(() => probe.got.length === 1);
    probe.socket.pause();
    server.socket.write("b");
    await sleep(100);
    assert.equal(Buffer.concat(probe.got).toString(), "a");
    probe.socket.resume();
    await waitFor(() => Buffer.concat(probe.got).toString() === "ab");
  });

  it("a reset while our FIN waits behind queued bytes still closes the socket", async (t) => {
    const { probe, server } = await connect(t, (s) => s.pause());
    server.socket.on("error", () => undefined);
    probe.socket.write(randomBytes(16 * 1024 * 1024)); // more than the kernel takes
    assert.ok(probe.socket.writableLength > 0);
    probe.socket.end(); // the FIN is queued behind them
    probe.socket.resetAndDestroy();
    await Promise.race([
      probe.closed,
      sleep(5000).then(() => assert.fail("the socket never closed")),
    ]);
    assert.deepEqual(probe.events, ["close"]);
  });
});

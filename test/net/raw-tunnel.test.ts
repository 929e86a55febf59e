// startRawTunnel over real loopback sockets: client → tunnel (a raw listening handle, raw
// sockets both sides) → target server.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import { describe, it } from "node:test";
import { dial } from "../../src/net/dial.ts";
import { RawSocket, noHandlers } from "../../src/net/raw-socket.ts";
import { listenHandle, type TcpHandle } from "../../src/net/raw-tcp.ts";
import { startRawTunnel, type RawTunnel } from "../../src/net/raw-tunnel.ts";
import type { TunnelResult } from "../../src/net/tunnel.ts";
import { connectTo, echo, peer, sleep, startServer, waitFor } from "../helpers/tcp-peers.ts";
import type { Peer } from "../helpers/tcp-peers.ts";
import type net from "node:net";

interface Options {
  /** the fixture's sweeper closes a tunnel idle this long; 0: never */
  readonly idleTimeoutMs: number;
  readonly keepAliveMs: number;
}

interface Fixture {
  port: number;
  /** the tunnel of the n-th accepted connection, once it started */
  tunnels: RawTunnel[];
  /** the client side socket of the n-th tunnel */
  clients: RawSocket[];
  /** the result of the n-th tunnel */
  result(n?: number): Promise<TunnelResult>;
  /** the target's side of the n-th connection */
  target(n?: number): Promise<Peer>;
}

const defaults: Options = { idleTimeoutMs: 0, keepAliveMs: 0 };

async function fixture(
  t: TestContext,
  targetHandler: (s: net.Socket) => void,
  options: Options = defaults,
): Promise<Fixture> {
  const targets: Peer[] = [];
  const target = await startServer(t, (s) => {
    targets.push(peer(s));
    targetHandler(s);
  });
  const results: Promise<TunnelResult>[] = [];
  const tunnels: RawTunnel[] = [];
  const clients: RawSocket[] = [];
  const clock = { now: Date.now() };
  const server = listenHandle("127.0.0.1", 0, 4, {
    reusePort: false,
    ipv6Only: false,
    backlog: 64,
  });
  assert.ok(typeof server !== "number");
  server.onconnection = (status: number, handle: TcpHandle | undefined) => {
    if (status !== 0 || handle === undefined) return;
    const client = new RawSocket(handle, noHandlers, undefined);
    clients.push(client);
    results.push(
      dial({
        addresses: ["127.0.0.1"],
        port: target.port,
        timeoutMs: 2000,
        mode: "dns-proxy",
      }).then(
        (d) =>
          new Promise((resolve) => {
            const upstream = new RawSocket(d.handle, noHandlers, undefined);
            tunnels.push(startRawTunnel(client, upstream, options, clock, resolve));
          }),
      ),
    );
  };
  const sweeper = setInterval(() => {
    clock.now = Date.now();
    if (options.idleTimeoutMs === 0) return;
    for (const tn of tunnels)
      if (clock.now - tn.lastActivity > options.idleTimeoutMs) tn.close("idle-timeout");
  }, 25);
  t.after(() => {
    clearInterval(sweeper);
    server.close();
    for (const c of clients) c.destroy();
  });
  const out: { address?: string; port?: number } = {};
  server.getsockname(out);
  return {
    port: out.port ?? 0,
    tunnels,
    clients,
    async result(n = 0) {
      await waitFor(() => results[n] !== undefined, 5000, "tunnel start");
      return results[n] as Promise<TunnelResult>;
    },
    async target(n = 0) {
      await waitFor(() => targets[n] !== undefined, 5000, "target connection");
      return targets[n] as Peer;
    },
  };
}

describe("startRawTunnel", () => {
  it("carries 4 MiB each way byte-exact and counts them", async (t) => {
    const f = await fixture(t, echo);
    const client = await connectTo(t, f.port);
    const payload = randomBytes(4 * 1024 * 1024);
    client.socket.end(payload);
    const back = await client.received;
    assert.equal(Buffer.compare(back, payload), 0);
    const r = await f.result();
    assert.deepEqual(r, {
      end: "done",
      bytesFromClient: payload.length,
      bytesToClient: payload.length,
      error: undefined,
    });
  });

  it("carries the client's half-close: the target answers after the client's FIN", async (t) => {
    const f = await fixture(t, (s) => {
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("end", () => {
        // Only after the client's FIN has crossed the tunnel.
        setTimeout(() => s.end(Buffer.concat([Buffer.from("got:"), ...chunks])), 50);
      });
    });
    const client = await connectTo(t, f.port);
    client.socket.end("question");
    assert.equal((await client.received).toString(), "got:question");
    assert.equal((await f.result()).end, "done");
  });

  it("carries the target's half-close: the client keeps sending after the target's FIN", async (t) => {
    const f = await fixture(t, (s) => {
      s.end("banner"); // say something and stop writing, keep reading
    });
    const client = await connectTo(t, f.port);
    assert.equal((await client.received).toString(), "banner");
    client.socket.end("late data");
    const target = await f.target();
    assert.equal((await target.received).toString(), "late data");
    const r = await f.result();
    assert.equal(r.end, "done");
    assert.equal(r.bytesFromClient, 9);
    assert.equal(r.bytesToClient, 6);
  });

  it("passes a client reset on to the target as a reset", async (t) => {
    const f = await fixture(t, () => undefined);
    const client = await connectTo(t, f.port);
    client.socket.write("hello");
    const target = await f.target();
    await waitFor(() => target.socket.bytesRead === 5, 5000, "bytes at target");
    client.socket.resetAndDestroy();
    assert.equal(await target.closed, "ECONNRESET");
    const r = await f.result();
    assert.equal(r.end, "client-reset");
    assert.equal(r.error, "ECONNRESET");
  });

  it("passes a target reset on to the client as a reset", async (t) => {
    const f = await fixture(t, (s) => {
      s.write("partial");
      setTimeout(() => s.resetAndDestroy(), 50);
    });
    const client = await connectTo(t, f.port);
    assert.equal(await client.closed, "ECONNRESET");
    const r = await f.result();
    assert.equal(r.end, "upstream-reset");
    assert.equal(r.bytesToClient, 7);
  });

  it("closes an idle tunnel after the idle timeout, and not while bytes move", async (t) => {
    // a timeout well above the pauses between writes, even on a busy machine
    const f = await fixture(t, echo, { idleTimeoutMs: 1000, keepAliveMs: 0 });
    const client = await connectTo(t, f.port);
    // Traffic every 100 ms for 3 s keeps it open (3x the timeout).
    for (let i = 0; i < 30; i++) {
      client.socket.write("x");
      await sleep(100);
    }
    assert.equal(client.socket.destroyed, false);
    const quietSince = Date.now();
    await client.received; // the tunnel closes its side: a FIN
    assert.ok(Date.now() - quietSince >= 500, "closed only after the timeout");
    const r = await f.result();
    assert.equal(r.end, "idle-timeout");
    assert.equal(r.bytesFromClient, 30);
    assert.equal(r.bytesToClient, 30);
  });

  it("close() ends both sides with the given reason", async (t) => {
    const f = await fixture(t, echo);
    const client = await connectTo(t, f.port);
    client.socket.write("x");
    await waitFor(() => f.tunnels.length === 1 && (f.clients[0]?.bytesWritten ?? 0) === 1);
    f.tunnels[0]?.close("drain");
    const target = await f.target();
    await Promise.all([client.received, target.received]);
    assert.equal((await f.result()).end, "drain");
  });

  it("holds back a fast sender when the target does not read (bounded buffering)", async (t) => {
    const f = await fixture(t, (s) => {
      s.pause(); // never reads
    });
    const client = await connectTo(t, f.port);
    const chunk = Buffer.alloc(1024 * 1024);
    let offered = 0;
    // Offer 64 MiB; the tunnel must stop reading long before that.
    for (let i = 0; i < 64; i++) {
      client.socket.write(chunk);
      offered += chunk.length;
    }
    await sleep(500);
    const read = f.clients[0]?.bytesRead ?? 0;
    assert.ok(f.tunnels[0], "tunnel started");
    assert.ok(
      read < offered / 4,
      `read ${read} of ${offered} bytes while the target was not reading`,
    );
  });

  it("turns TCP keep-alive on both sockets", async (t) => {
    const f = await fixture(t, echo, { idleTimeoutMs: 0, keepAliveMs: 45_000 });
    const client = await connectTo(t, f.port);
    client.socket.write("x");
    await waitFor(() => (f.clients[0]?.bytesWritten ?? 0) === 1);
    // ss shows a keepalive timer on both sockets the tunnel owns: the accepted one
    // (front port ↔ test client) and the upstream one (↔ target port).
    const target = await f.target();
    // Only this test's two sockets: another test's thousands would overflow the output.
    const filter = `( sport = :${f.port} or dport = :${target.socket.localPort} )`;
    const rows = execFileSync("ss", ["-tnoH", "state", "established", filter], {
      encoding: "utf8",
    })
      .split("\n")
      .map((l) => l.trim().split(/\s+/)); // Recv-Q Send-Q Local Peer timer…
    const row = (local: string, remote: string): string =>
      rows.find((r) => r[2] === local && r[3] === remote)?.join(" ") ?? "(no such socket)";
    const accepted = row(`127.0.0.1:${f.port}`, `127.0.0.1:${client.socket.localPort}`);
    const upstream = row(
      `127.0.0.1:${target.socket.remotePort}`,
      `127.0.0.1:${target.socket.localPort}`,
    );
    assert.match(accepted, /keepalive/);
    assert.match(upstream, /keepalive/);
  });
});

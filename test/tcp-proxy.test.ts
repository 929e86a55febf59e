// The DNS (TCP) proxy service over real loopback sockets, with a real dnsmasq for names.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { startDnsmasq } from "./helpers/dnsmasq.ts";
import { connectTo, peer, sleep, startServer, waitFor } from "./helpers/tcp-peers.ts";
import type { Peer } from "./helpers/tcp-peers.ts";
import type { Backend } from "./helpers/tcp-proxy-fixture.ts";
import {
  freeTcpPort,
  recordEvents,
  rule,
  startBackend,
  startBackends,
  startProxy,
  testOptions,
} from "./helpers/tcp-proxy-fixture.ts";

/** Sends `text`, half-closes, and returns what came back (the backends echo). */
async function roundTrip(
  t: Parameters<typeof connectTo>[0],
  port: number,
  text: string,
  host = "127.0.0.1",
): Promise<string> {
  const c = await connectTo(t, port, host);
  c.socket.end(text);
  return (await c.received).toString();
}

describe("DNS proxy: forwarding", () => {
  it("forwards to an address, byte-exact both ways, for IPv4 and IPv6 clients", async (t) => {
    const events = recordEvents(t);
    const backend = await startBackend(t, "127.0.0.2");
    const port = await freeTcpPort();
    await startProxy(t, [rule(1, port, "127.0.0.2", backend.port)]);
    const payload = randomBytes(1024 * 1024);
    const c = await connectTo(t, port);
    c.socket.end(payload);
    assert.equal(Buffer.compare(await c.received, payload), 0);
    assert.equal(await roundTrip(t, port, "over IPv6", "::1"), "over IPv6");
    await waitFor(() => events.closes.length === 2);
    const [first, second] = events.closes;
    assert.deepEqual(
      { ...first, durationMs: 0, client: "" },
      {
        mode: "dns-proxy",
        listener: String(port),
        client: "",
        destination: `127.0.0.2:${backend.port}`,
        address: "127.0.0.2",
        ruleLine: 1,
        bytesFromClient: payload.length,
        bytesToClient: payload.length,
        durationMs: 0,
        end: "done",
      },
    );
    assert.match(first?.client ?? "", /^127\.0\.0\.1:\d+$/);
    assert.match(second?.client ?? "", /^\[::1\]:\d+$/);
  });

  it("forwards to an IPv6 target", async (t) => {
    const backend = await startBackend(t, "::1");
    const port = await freeTcpPort();
    await startProxy(t, [rule(1, port, "::1", backend.port)]);
    assert.equal(await roundTrip(t, port, "to v6"), "to v6");
  });

  it("forwards to a name and uses all of its addresses, round robin", async (t) => {
    const [a, b] = (await startBackends(t, ["127.0.0.2", "127.0.0.3"])) as [Backend, Backend];
    const dns = await startDnsmasq(t, { "db.test.example": ["127.0.0.2", "127.0.0.3"] });
    const port = await freeTcpPort();
    const proxy = await startProxy(t, [rule(1, port, "db.test.example", a.port)], {
      resolver: { ...testOptions.resolver, servers: [dns.server] },
    });
    for (let i = 0; i < 6; i++) assert.equal(await roundTrip(t, port, `n${i}`), `n${i}`);
    assert.deepEqual([a.accepted, b.accepted], [3, 3]);
    const r = proxy.status().rules[0];
    assert.deepEqual(r?.addresses, [
      { address: "127.0.0.2", up: true },
      { address: "127.0.0.3", up: true },
    ]);
    assert.equal(r?.hits, 6);
  });

  it("least connections sends new connections to the least busy address", async (t) => {
    const [a, b] = (await startBackends(t, ["127.0.0.2", "127.0.0.3"])) as [Backend, Backend];
    const dns = await startDnsmasq(t, { "db.test.example": ["127.0.0.2", "127.0.0.3"] });
    const port = await freeTcpPort();
    await startProxy(t, [rule(1, port, "db.test.example", a.port)], {
      balance: "least-connections",
      resolver: { ...testOptions.resolver, servers: [dns.server] },
    });
    // One long connection stays open on the first address…
    const held = await connectTo(t, port);
    held.socket.write("x");
    await waitFor(() => a.accepted + b.accepted === 1);
    const busy = a.accepted === 1 ? a : b;
    const idle = busy === a ? b : a;
    // …so the next ones go to the other, one at a time.
    for (let i = 0; i < 3; i++) await roundTrip(t, port, "y");
    assert.equal(idle.accepted, 3);
    assert.equal(busy.accepted, 1);
  });

  it("follows DNS: a changed answer applies to new connections", async (t) => {
    const [a, b] = (await startBackends(t, ["127.0.0.2", "127.0.0.3"])) as [Backend, Backend];
    const dns = await startDnsmasq(t, { "db.test.example": ["127.0.0.2"] });
    const port = await freeTcpPort();
    const proxy = await startProxy(t, [rule(1, port, "db.test.example", a.port)], {
      resolver: { ...testOptions.resolver, servers: [dns.server] },
    });
    const open = await connectTo(t, port); // stays on the old address
    open.socket.write("old ");
    await roundTrip(t, port, "a");
    assert.equal(a.accepted, 2);
    await dns.set({ "db.test.example": ["127.0.0.3"] });
    // TTL 1 s: the proxy asks again within about a second.
    await waitFor(
      () => proxy.status().rules[0]?.addresses?.[0]?.address === "127.0.0.3",
      5000,
      "re-resolution",
    );
    await roundTrip(t, port, "b");
    assert.equal(b.accepted, 1);
    open.socket.end("still there");
    assert.equal((await open.received).toString(), "old still there");
  });

  it("keeps the last good answer while DNS fails, and says so", async (t) => {
    const a = await startBackend(t, "127.0.0.2");
    const dns = await startDnsmasq(t, { "db.test.example": ["127.0.0.2"] });
    const port = await freeTcpPort();
    const proxy = await startProxy(t, [rule(1, port, "db.test.example", a.port)], {
      resolver: { ...testOptions.resolver, servers: [dns.server], queryTimeoutMs: 200 },
    });
    await dns.set({}); // the name is gone: NXDOMAIN
    const detail = (): Record<string, unknown> =>
      (proxy.status()["dnsProxy"] as { rules: Record<string, unknown>[] }).rules[0] ?? {};
    await waitFor(
      () => (detail()["resolution"] as { state: string }).state === "stale",
      5000,
      "stale state",
    );
    assert.match(String((detail()["resolution"] as { error: string }).error), /NXDOMAIN/);
    assert.equal(await roundTrip(t, port, "still works"), "still works");
  });
});

describe("DNS proxy: failures", () => {
  it("fails over when an address dies: no client sees an error", async (t) => {
    const events = recordEvents(t);
    const [a, b] = (await startBackends(t, ["127.0.0.2", "127.0.0.3"])) as [Backend, Backend];
    const dns = await startDnsmasq(t, { "db.test.example": ["127.0.0.2", "127.0.0.3"] });
    const port = await freeTcpPort();
    const proxy = await startProxy(t, [rule(1, port, "db.test.example", a.port)], {
      resolver: { ...testOptions.resolver, servers: [dns.server] },
    });
    a.kill();
    for (let i = 0; i < 6; i++) assert.equal(await roundTrip(t, port, `m${i}`), `m${i}`);
    assert.equal(b.accepted, 6);
    assert.deepEqual(
      events.closes.map((c) => c.end),
      ["done", "done", "done", "done", "done", "done"],
    );
    // One refused attempt marked 127.0.0.2 down; the others skipped it.
    assert.deepEqual(
      events.upstreamErrors.map((e) => [e.address, e.kind]),
      [["127.0.0.2", "refused"]],
    );
    assert.deepEqual(proxy.status().rules[0]?.addresses, [
      { address: "127.0.0.2", up: false },
      { address: "127.0.0.3", up: true },
    ]);
  });

  it("resets the client at once when every address is down", async (t) => {
    const events = recordEvents(t);
    const port = await freeTcpPort();
    const deadPort = await freeTcpPort("127.0.0.2");
    // Timeouts and backoff of a minute: a client kept waiting for either would wait that
    // long; "at once" is measured against them, not against a busy machine's clock.
    await startProxy(t, [rule(1, port, "127.0.0.2", deadPort)], {
      connectTimeoutMs: 60_000,
      backoffMinMs: 60_000,
      backoffMaxMs: 60_000,
    });
    for (const expected of ["refused", "no-address"]) {
      const started = Date.now();
      const c = await connectTo(t, port);
      assert.equal(await c.closed, "ECONNRESET");
      assert.ok(Date.now() - started < 30_000, "closed at once, not after a hang");
      await waitFor(() => events.closes.length > 0);
      assert.equal(events.closes.shift()?.end, "connect-failed");
      assert.equal(events.upstreamErrors.shift()?.kind, expected);
    }
  });

  it("gives up on an address that does not answer after the connect timeout", async (t) => {
    const events = recordEvents(t);
    const { blackhole } = await import("./helpers/blackhole.ts");
    const target = await blackhole(t, "127.0.0.2");
    const port = await freeTcpPort();
    await startProxy(t, [rule(1, port, "127.0.0.2", target.port)], { connectTimeoutMs: 300 });
    const started = Date.now();
    const c = await connectTo(t, port);
    assert.equal(await c.closed, "ECONNRESET");
    const took = Date.now() - started;
    assert.ok(took >= 250, `waited for the timeout (${took} ms)`);
    await waitFor(() => events.upstreamErrors.length > 0);
    assert.equal(events.upstreamErrors[0]?.kind, "timeout");
  });
});

describe("DNS proxy: limits and timeouts", () => {
  it("resets connections over the limit at once and serves again below it", async (t) => {
    const events = recordEvents(t);
    const backend = await startBackend(t, "127.0.0.2");
    const port = await freeTcpPort();
    const proxy = await startProxy(t, [rule(1, port, "127.0.0.2", backend.port)], {
      maxConnections: 2,
    });
    const held = [await connectTo(t, port), await connectTo(t, port)];
    for (const h of held) h.socket.write("x");
    await waitFor(() => backend.accepted === 2);
    const over = await connectTo(t, port);
    assert.equal(await over.closed, "ECONNRESET");
    await waitFor(() => events.closes.length === 1);
    assert.equal(events.closes[0]?.end, "limit");
    assert.equal((proxy.status()["dnsProxy"] as { refusedAtLimit: number }).refusedAtLimit, 1);
    held[0]?.socket.end();
    await held[0]?.received;
    await waitFor(() => proxy.status().activeConnections === 1);
    assert.equal(await roundTrip(t, port, "room again"), "room again");
  });

  it("closes a connection idle longer than its rule's idle timeout", async (t) => {
    const events = recordEvents(t);
    const backend = await startBackend(t, "127.0.0.2");
    const port = await freeTcpPort();
    await startProxy(t, [rule(1, port, "127.0.0.2", backend.port, 300)]);
    const c = await connectTo(t, port);
    c.socket.write("x");
    await sleep(150);
    c.socket.write("y"); // activity restarts the clock
    assert.equal((await c.received).toString(), "xy");
    await waitFor(() => events.closes.length === 1);
    assert.equal(events.closes[0]?.end, "idle-timeout");
    assert.ok((events.closes[0]?.durationMs ?? 0) >= 400, "not before 150 + 300 ms");
  });

  it("carries a half-close: the target answers after the client stopped sending", async (t) => {
    const backend = await startBackend(t, "127.0.0.2"); // echoes, ends after the client ends
    const port = await freeTcpPort();
    await startProxy(t, [rule(1, port, "127.0.0.2", backend.port)]);
    const c = await connectTo(t, port);
    c.socket.write("before FIN");
    c.socket.end();
    assert.equal((await c.received).toString(), "before FIN");
  });
});

describe("DNS proxy: the byte path", () => {
  it("passes a client reset on to the target as a reset", async (t) => {
    const events = recordEvents(t);
    const targets: Peer[] = [];
    const target = await startServer(t, (s) => targets.push(peer(s)), "127.0.0.2");
    const port = await freeTcpPort();
    await startProxy(t, [rule(1, port, "127.0.0.2", target.port)]);
    const c = await connectTo(t, port);
    c.socket.write("hello");
    await waitFor(() => (targets[0]?.socket.bytesRead ?? 0) === 5);
    c.socket.resetAndDestroy();
    assert.equal(await targets[0]?.closed, "ECONNRESET");
    await waitFor(() => events.closes.length === 1);
    assert.equal(events.closes[0]?.end, "client-reset");
  });

  it("passes a target reset on to the client as a reset", async (t) => {
    const events = recordEvents(t);
    const target = await startServer(
      t,
      (s) => {
        s.write("partial");
        setTimeout(() => s.resetAndDestroy(), 50);
      },
      "127.0.0.2",
    );
    const port = await freeTcpPort();
    await startProxy(t, [rule(1, port, "127.0.0.2", target.port)]);
    const c = await connectTo(t, port);
    assert.equal(await c.closed, "ECONNRESET");
    await waitFor(() => events.closes.length === 1);
    assert.deepEqual(
      [events.closes[0]?.end, events.closes[0]?.bytesToClient],
      ["upstream-reset", 7],
    );
  });

  it("carries the target's half-close: the client keeps sending after the target's FIN", async (t) => {
    const targets: Peer[] = [];
    const target = await startServer(
      t,
      (s) => {
        targets.push(peer(s));
        s.end("banner");
      },
      "127.0.0.2",
    );
    const port = await freeTcpPort();
    await startProxy(t, [rule(1, port, "127.0.0.2", target.port)]);
    const c = await connectTo(t, port);
    assert.equal((await c.received).toString(), "banner");
    c.socket.end("late data");
    await waitFor(() => targets.length === 1);
    assert.equal((await targets[0]?.received)?.toString(), "late data");
  });

  it("carries 8 MiB each way at once, byte-exact", async (t) => {
    const events = recordEvents(t);
    const backend = await startBackend(t, "127.0.0.2");
    const port = await freeTcpPort();
    await startProxy(t, [rule(1, port, "127.0.0.2", backend.port)]);
    const payload = randomBytes(8 * 1024 * 1024);
    const c = await connectTo(t, port);
    c.socket.end(payload);
    const back = await c.received;
    assert.equal(back.length, payload.length);
    assert.equal(Buffer.compare(back, payload), 0);
    await waitFor(() => events.closes.length === 1);
    assert.deepEqual(
      [events.closes[0]?.bytesFromClient, events.closes[0]?.bytesToClient],
      [payload.length, payload.length],
    );
  });

  it("holds back a fast sender when the target does not read", async (t) => {
    const target = await startServer(t, (s) => s.pause(), "127.0.0.2");
    const port = await freeTcpPort();
    await startProxy(t, [rule(1, port, "127.0.0.2", target.port)]);
    const c = await connectTo(t, port);
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 64; i++) c.socket.write(chunk);
    await sleep(500);
    // Kernel buffers and the proxy's budget take a few MiB; the rest waits in the client.
    assert.ok(
      c.socket.writableLength > 32 * 1024 * 1024,
      `${c.socket.writableLength} bytes still queued in the client`,
    );
  });

  it("turns TCP keep-alive on for both of its sockets (the target's within a second or two)", async (t) => {
    const backend = await startBackend(t, "127.0.0.2");
    const port = await freeTcpPort();
    await startProxy(t, [rule(1, port, "127.0.0.2", backend.port)], { keepAliveMs: 45_000 });
    const c = await connectTo(t, port);
    c.socket.write("x");
    await waitFor(() => backend.served === 1);
    const sockets = () => {
      // Only this test's sockets: the machine may hold many thousands of others.
      const filter = `( sport = :${port} or dport = :${backend.port} )`;
      const rows = execFileSync("ss", ["-tnoH", "state", "established", filter], {
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      })
        .split("\n")
        .map((l) => l.trim().split(/\s+/)); // Recv-Q Send-Q Local Peer timer…
      return {
        accepted: rows.find(
          // dual-stack listener: ss shows [::ffff:127.0.0.1]:port
          (r) => r[2]?.endsWith(`:${port}`) && r[3]?.endsWith(`:${c.socket.localPort}`),
        ),
        toTarget: rows.find(
          (r) => r[3] === `127.0.0.2:${backend.port}` && r[2]?.startsWith("127.0.0.1:"),
        ),
      };
    };
    // The accepted socket has it from the start (inherited from the listening socket).
    assert.match(sockets().accepted?.join(" ") ?? "(no accepted socket)", /keepalive/);
    // The target's is turned on by the next idle sweep (at most a second here): the first
    // probe is due after 45 s of silence, so that second changes nothing a peer can see.
    await waitFor(
      () => /keepalive/.test(sockets().toTarget?.join(" ") ?? ""),
      5000,
      "keep-alive on the socket to the target",
    );
    assert.match(sockets().toTarget?.join(" ") ?? "", /timer:\(keepalive,4\d/);
  });
});

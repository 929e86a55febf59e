// The DNS proxy service's life cycle: reload under traffic, rejected reloads, drain on stop,
// worker threads and active health checks.
import assert from "node:assert/strict";
import net from "node:net";
import type { TestContext } from "node:test";
import { describe, it } from "node:test";
import { testOptions } from "./helpers/tcp-proxy-fixture.ts";
import { connectTo, sleep, waitFor } from "./helpers/tcp-peers.ts";
import type { Backend } from "./helpers/tcp-proxy-fixture.ts";
import {
  freeTcpPort,
  recordEvents,
  rule,
  startBackend,
  startBackends,
  startProxy,
} from "./helpers/tcp-proxy-fixture.ts";
import { startDnsmasq } from "./helpers/dnsmasq.ts";
import { createMetrics, renderMetrics } from "../src/observe/metrics.ts";
import { createTcpProxyService } from "../src/tcp-proxy/tcp-proxy-service.ts";

/** One client: connect, send, half-close, read the echo. Rejects on any error or mismatch. */
function roundTrip(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", reject);
    s.on("end", () => {
      const got = Buffer.concat(chunks).toString();
      s.destroy();
      if (got === text) resolve();
      else reject(new Error(`echo mismatch: ${JSON.stringify(got)}`));
    });
    s.end(text);
  });
}

/** Clients in a loop until `stop()`: counts successes, keeps every failure. */
function traffic(port: number, concurrency: number) {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const loops = Array.from({ length: concurrency }, async (_, i) => {
    for (let n = 0; running; n++) {
      try {
        await roundTrip(port, `client ${i} round ${n}`);
        ok += 1;
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  });
  return {
    get ok() {
      return ok;
    },
    async stop(): Promise<string[]> {
      running = false;
      await Promise.all(loops);
      return failures;
    },
  };
}

async function listenerOn(t: TestContext, port: number): Promise<net.Server> {
  const s = net.createServer();
  s.listen(port, "127.0.0.1");
  await new Promise((r) => s.once("listening", r));
  t.after(() => s.close());
  return s;
}

for (const threads of [1, 2]) {
  describe(`DNS proxy: reload (${threads} thread${threads > 1 ? "s" : ""})`, () => {
    it("applies new rules under traffic without dropping a connection", async (t) => {
      const a = await startBackend(t, "127.0.0.2");
      const b = await startBackend(t, "127.0.0.3");
      const [p1, p2] = [await freeTcpPort(), await freeTcpPort()];
      const proxy = await startProxy(t, [rule(1, p1, "127.0.0.2", a.port)], { threads });
      const longLived = await connectTo(t, p1);
      longLived.socket.write("opened before the reload; ");
      const load = traffic(p1, 4);
      await waitFor(() => load.ok > 20, 10_000, "traffic before the reload");
      // Port 1 now goes to b; port 2 opens (to a).
      await proxy.apply({
        rules: [rule(1, p1, "127.0.0.3", b.port), rule(2, p2, "127.0.0.2", a.port)],
        options: proxy.options,
      });
      const before = b.accepted;
      await waitFor(() => b.accepted > before + 20, 10_000, "traffic after the reload");
      assert.deepEqual(await load.stop(), []);
      await roundTrip(p2, "new port");
      // The connection opened before the reload still goes to a.
      longLived.socket.end("still on a");
      assert.equal((await longLived.received).toString(), "opened before the reload; still on a");
      assert.deepEqual(
        proxy.status().rules.map((r) => [r.line, r.text]),
        [
          [1, `${p1} 127.0.0.3 ${b.port}`],
          [2, `${p2} 127.0.0.2 ${a.port}`],
        ],
      );
    });

    it("a removed port stops accepting; its open connections carry on", async (t) => {
      const a = await startBackend(t, "127.0.0.2");
      const [p1, p2] = [await freeTcpPort(), await freeTcpPort()];
      const proxy = await startProxy(
        t,
        [rule(1, p1, "127.0.0.2", a.port), rule(2, p2, "127.0.0.2", a.port)],
        { threads },
      );
      const open = await connectTo(t, p2);
      open.socket.write("before ");
      await waitFor(() => a.accepted === 1);
      await proxy.apply({ rules: [rule(1, p1, "127.0.0.2", a.port)], options: proxy.options });
      await assert.rejects(roundTrip(p2, "x"), /ECONNREFUSED/);
      open.socket.end("after");
      assert.equal((await open.received).toString(), "before after");
      await roundTrip(p1, "port 1 unchanged");
    });

    it("a port another program listens on with SO_REUSEPORT is refused, not shared", async (t) => {
      // Same user, both sockets with SO_REUSEPORT: the kernel would let the proxy's threads
      // join the other program's group and split its connections with it.
      const a = await startBackend(t, "127.0.0.2");
      const [p1, taken] = [await freeTcpPort(), await freeTcpPort()];
      const other = net.createServer((s) => s.end("the other program\n"));
      other.listen({ port: taken, host: "127.0.0.1", reusePort: true });
      await new Promise((r) => other.once("listening", r));
      t.after(() => other.close());
      const refused = new RegExp(
        `EGRESS_DNS_PROXY_DESTINATION line 2: Cannot listen on 127\\.0\\.0\\.1:${taken}: .*EADDRINUSE`,
      );
      const listenAddresses = ["127.0.0.1"];
      const rules = [rule(1, p1, "127.0.0.2", a.port), rule(2, taken, "127.0.0.2", a.port)];
      await assert.rejects(startProxy(t, rules, { listenAddresses, threads }), refused);
      const proxy = await startProxy(t, [rules[0]!], { listenAddresses, threads });
      await assert.rejects(proxy.apply({ rules, options: proxy.options }), refused);
      await roundTrip(p1, "old rules");
      assert.deepEqual(
        proxy.status().listeners.map((l) => l.port),
        [p1],
      );
    });

    it("rejects rules whose port cannot be opened and keeps serving the old ones", async (t) => {
      const a = await startBackend(t, "127.0.0.2");
      const [p1, taken] = [await freeTcpPort(), await freeTcpPort()];
      const proxy = await startProxy(t, [rule(1, p1, "127.0.0.2", a.port)], {
        listenAddresses: ["127.0.0.1"],
        threads,
      });
      await listenerOn(t, taken);
      await assert.rejects(
        proxy.apply({
          rules: [rule(1, p1, "127.0.0.3", a.port), rule(2, taken, "127.0.0.2", a.port)],
          options: proxy.options,
        }),
        new RegExp(
          `^Error: EGRESS_DNS_PROXY_DESTINATION line 2: Cannot listen on 127\\.0\\.0\\.1:${taken}: .*EADDRINUSE`,
        ),
      );
      await roundTrip(p1, "old rules");
      assert.equal(a.accepted, 1);
      assert.deepEqual(
        proxy.status().listeners.map((l) => l.port),
        [p1],
      );
    });
  });
}

describe("DNS proxy: stop", () => {
  it("stops accepting at once, lets open connections finish, closes the rest at the end", async (t) => {
    const events = recordEvents(t);
    const a = await startBackend(t, "127.0.0.2");
    const port = await freeTcpPort();
    const proxy = await startProxy(t, [rule(1, port, "127.0.0.2", a.port)]);
    const finishing = await connectTo(t, port);
    const lingering = await connectTo(t, port);
    finishing.socket.write("a");
    lingering.socket.write("b");
    await waitFor(() => a.accepted === 2);
    const stopped = proxy.stop(600);
    await sleep(50);
    await assert.rejects(roundTrip(port, "late"), /ECONNREFUSED/);
    finishing.socket.end("c");
    assert.equal((await finishing.received).toString(), "ac");
    await stopped;
    await lingering.received; // closed by the proxy when the drain time ran out
    assert.deepEqual(events.closes.map((c) => c.end).sort(), ["done", "drain"]);
  });
});

describe("DNS proxy: threads and health checks", () => {
  it("forwards from several threads; the metrics count every connection exactly once", async (t) => {
    const a = await startBackend(t, "127.0.0.2");
    const port = await freeTcpPort();
    // As the daemon creates it: each worker thread logs (warn: no line per connection here)
    // and counts its own connections; the main thread adds the counts up.
    const proxy = createTcpProxyService(
      { rules: [rule(1, port, "127.0.0.2", a.port)], options: { ...testOptions, threads: 2 } },
      {
        host: {
          log: { format: "json", level: "warn", dnsProxyDebug: false, colour: false },
          version: "test",
        },
      },
    );
    t.after(() => proxy.stop(0));
    await proxy.start();
    const main = createMetrics({ version: "test", mode: "dns-proxy" });
    t.after(() => main.close());
    const texts = Array.from({ length: 40 }, (_, i) => `t${i}`);
    await Promise.all(texts.map((x) => roundTrip(port, x)));
    const bytes = texts.reduce((n, x) => n + x.length, 0);
    const value = (body: string, series: string): number =>
      Number(
        body
          .split("\n")
          .find((l) => l.startsWith(`${series} `))
          ?.split(" ")[1] ?? NaN,
      );
    const l = `mode="dns-proxy",listener="${port}"`;
    // A connection's close is counted when its thread has closed both sockets, which may be
    // just after the client saw the end: read until the count is there (never beyond).
    let body = "";
    for (const deadline = Date.now() + 10_000; ; await sleep(20)) {
      body = await renderMetrics(main.registry, await proxy.metricFamilies());
      const closed = value(body, `egress_router_connections_closed_total{${l},end="done"}`);
      if (closed === 40 || Date.now() > deadline) break;
    }
    assert.equal(value(body, `egress_router_connections_closed_total{${l},end="done"}`), 40);
    assert.equal(value(body, `egress_router_connections_opened_total{${l}}`), 40);
    assert.equal(value(body, `egress_router_connections_active{${l}}`), 0);
    for (const direction of ["from-client", "to-client"]) {
      assert.equal(
        value(
          body,
          `egress_router_transferred_bytes_total{mode="dns-proxy",direction="${direction}"}`,
        ),
        bytes,
      );
    }
    assert.equal(
      value(body, `egress_router_upstream_connect_duration_seconds_count{mode="dns-proxy"}`),
      40,
    );
    // Every worker thread answered with its own counts.
    assert.equal((await proxy.metricFamilies()).length, 2);
    // The process's own metrics are the main thread's alone (not summed over threads).
    assert.equal(body.match(/^# TYPE process_cpu_seconds_total /gm)?.length, 1);
    assert.equal(value(body, 'egress_router_build_info{version="test",mode="dns-proxy"}'), 1);
    await waitFor(() => proxy.status().rules[0]?.hits === 40, 5000, "hits from every thread");
    assert.equal((proxy.status()["dnsProxy"] as { threads: number }).threads, 2);
  });

  it("counts failed connects and refusals at the limit from every thread", async (t) => {
    // A port nobody listens on (refused at once), and a limit of one connection.
    const closedPort = await freeTcpPort();
    const a = await startBackend(t, "127.0.0.2");
    const [refusing, limited] = [await freeTcpPort(), await freeTcpPort()];
    const proxy = createTcpProxyService(
      {
        rules: [rule(1, refusing, "127.0.0.3", closedPort), rule(2, limited, "127.0.0.2", a.port)],
        options: { ...testOptions, threads: 2, maxConnections: 1 },
      },
      {
        host: {
          log: { format: "json", level: "warn", dnsProxyDebug: false, colour: false },
          version: "test",
        },
      },
    );
    t.after(() => proxy.stop(0));
    await proxy.start();
    const main = createMetrics({ version: "test", mode: "dns-proxy" });
    t.after(() => main.close());
    const value = (body: string, series: string): number =>
      Number(
        body
          .split("\n")
          .find((l) => l.startsWith(`${series} `))
          ?.split(" ")[1] ?? NaN,
      );
    const render = async (): Promise<string> =>
      renderMetrics(main.registry, await proxy.metricFamilies());
    // Each refused connect resets its client at once.
    for (let i = 0; i < 6; i++) {
      const c = await connectTo(t, refusing);
      assert.equal(await c.closed, "ECONNRESET");
    }
    const r = `mode="dns-proxy",listener="${refusing}"`;
    let body = "";
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(20)) {
      body = await render();
      if (value(body, `egress_router_connections_closed_total{${r},end="connect-failed"}`) === 6)
        break;
    }
    assert.equal(value(body, `egress_router_connections_opened_total{${r}}`), 6);
    assert.equal(
      value(body, `egress_router_connections_closed_total{${r},end="connect-failed"}`),
      6,
      body
        .split("\n")
        .filter((x) => x.includes(String(refusing)))
        .join("\n"),
    );
    // Each connection counts one connect error: refused while the address is tried, then
    // no-address while it is marked down (in each thread, once it hears of it).
    const errors = (kind: string): number =>
      value(body, `egress_router_upstream_connect_errors_total{mode="dns-proxy",kind="${kind}"}`) ||
      0;
    assert.ok(errors("refused") >= 1, `refused: ${errors("refused")}`);
    assert.equal(errors("refused") + errors("no-address"), 6);
    // One connection holds the only slot; the next ones are refused at the limit.
    const held = await connectTo(t, limited);
    held.socket.write("x");
    await waitFor(() => a.served === 1, 5000, "the held connection at the backend");
    for (let i = 0; i < 4; i++) {
      const c = await connectTo(t, limited);
      assert.equal(await c.closed, "ECONNRESET");
    }
    const l = `mode="dns-proxy",listener="${limited}"`;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(20)) {
      body = await render();
      if (value(body, `egress_router_connections_closed_total{${l},end="limit"}`) === 4) break;
    }
    assert.equal(value(body, `egress_router_connections_closed_total{${l},end="limit"}`), 4);
    assert.equal(value(body, `egress_router_connections_opened_total{${l}}`), 5);
    assert.equal(value(body, `egress_router_connections_active{${l}}`), 1);
    await waitFor(
      () => (proxy.status()["dnsProxy"] as { refusedAtLimit: number }).refusedAtLimit === 4,
      5000,
      "refusals at the limit on the status page",
    );
  });

  it("marks an address down by active checks before a client tries it, and up again", async (t) => {
    const [a, b] = (await startBackends(t, ["127.0.0.2", "127.0.0.3"])) as [Backend, Backend];
    const dns = await startDnsmasq(t, { "db.test.example": ["127.0.0.2", "127.0.0.3"] });
    const port = await freeTcpPort();
    const proxy = await startProxy(t, [rule(1, port, "db.test.example", a.port)], {
      healthCheck: { intervalMs: 100, timeoutMs: 500, fall: 2, rise: 1 },
      resolver: { ...testOptions.resolver, servers: [dns.server] },
    });
    const up = (): boolean[] => (proxy.status().rules[0]?.addresses ?? []).map((x) => x.up);
    a.kill();
    await waitFor(() => up().join() === "false,true", 5000, "a marked down");
    for (let i = 0; i < 4; i++) await roundTrip(port, "only b");
    assert.equal(b.served, 4);
    const again = await startBackend(t, "127.0.0.2", a.port);
    await waitFor(() => up().join() === "true,true", 5000, "a back up");
    for (let i = 0; i < 4; i++) await roundTrip(port, "both");
    assert.equal(again.served, 2);
  });
});

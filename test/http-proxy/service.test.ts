// The HTTP proxy Service as the daemon host drives it: start on port 0 with one worker (in
// this thread) or several worker threads (the first one's port is shared), apply a new
// policy to all of them, report, count, log, stop. With threads: each logs its own lines,
// counts its own metrics (the host adds them up), a thread that dies is replaced while the
// others keep the port served, stop drains them all, and the connection limit is shared.
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import type { TestContext } from "node:test";
import { describe, it } from "node:test";
import { readHttpProxySettings } from "../../src/config/http-proxy-settings.ts";
import { trackActivity } from "../../src/observe/activity.ts";
import { createLogger, subscribeLogs } from "../../src/observe/log.ts";
import { createMetrics, renderMetrics } from "../../src/observe/metrics.ts";
import type { ServiceHost } from "../../src/observe/service.ts";
import { compileHttpProxyRules, httpProxyMode } from "../../src/service/http-proxy-mode.ts";
import type { WorkerService } from "../../src/service/http-proxy-workers.ts";
import { rawExchange, startOrigin, statusOf } from "../helpers/http-proxy.ts";
import { waitFor as waitForShort } from "../helpers/net.ts";

/** Threads start slowly on a loaded machine: generous, never a speed assertion. */
const waitFor = <T>(what: string, check: () => T | undefined | Promise<T | undefined>) =>
  waitForShort(what, check, 20_000);

const get = (port: number, path = "/") =>
  `GET http://127.0.0.1:${port}${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;

type Line = Record<string, unknown> & { msg: string };

function start(t: TestContext, workers: string, rules: string, env: Record<string, string> = {}) {
  const settings = readHttpProxySettings(
    {
      EGRESS_HTTP_PROXY_ADDRESS: "127.0.0.1",
      EGRESS_HTTP_PROXY_PORT: "1",
      EGRESS_HTTP_PROXY_WORKERS: workers,
      ...env,
    },
    {},
  );
  // Worker threads write their lines straight to stdout (a test of the process reads them);
  // here they log only errors. With one worker the proxy runs in this thread, where the
  // host's own logger (captured here) and activity tracker see it.
  const lines: Line[] = [];
  const host: ServiceHost = {
    log: { format: "json", level: workers === "1" ? "info" : "error", dnsProxyDebug: false },
    version: "test",
  };
  const activity = trackActivity();
  t.after(() => activity.close());
  if (workers === "1") {
    const logger = createLogger({
      ...host.log,
      destination: {
        write(text: string) {
          for (const l of text.split("\n")) if (l) lines.push(JSON.parse(l) as Line);
        },
      },
    });
    t.after(subscribeLogs(logger, { dnsProxyDebug: false }));
  }
  const mode = httpProxyMode({ ...settings, port: 0 });
  const service = mode.create(mode.compile(rules), host);
  t.after(() => service.stop(0));
  return { settings, service, lines, activity };
}

/** The value of one sample line of the exposition text, 0 when absent. */
function sample(text: string, line: string): number {
  const m = new RegExp(`^${line.replace(/[{}()[\].+*?^$|\\]/g, "\\$&")} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

for (const workers of ["1", "2"]) {
  describe(`http-proxy service with ${workers} worker(s)`, () => {
    it("starts on one shared port, applies a policy to every worker, logs, counts, reports, stops", async (t) => {
      const origin = await startOrigin(t);
      const { settings, service, lines, activity: own } = start(t, workers, "127.0.0.0/8");
      const metrics = createMetrics({ version: "0", mode: "http-proxy" });
      t.after(() => metrics.close());
      await service.start();
      const port = service.status().listeners[0]?.port ?? 0;
      assert.ok(port > 0);
      assert.equal(service.status().listeners[0]?.up, true);
      for (let i = 0; i < 4; i++)
        assert.equal(statusOf((await rawExchange(port, get(origin.port))).text), 200);
      await service.apply(compileHttpProxyRules("!127.0.0.1\n127.0.0.0/8", settings));
      for (let i = 0; i < 8; i++)
        assert.equal(statusOf((await rawExchange(port, get(origin.port))).text), 403);
      if (workers === "1") {
        // one decision line and one close line per connection
        await waitFor("12 decision and 12 close lines", () =>
          lines.filter((l) => l.msg === "connection decided").length >= 12 &&
          lines.filter((l) => l.msg === "connection closed").length >= 12
            ? true
            : undefined,
        );
        const decided = lines.filter((l) => l.msg === "connection decided");
        assert.deepEqual(
          [decided.filter((l) => l["action"] === "allow").length, decided.length],
          [4, 12],
        );
        assert.equal(decided.find((l) => l["action"] === "deny")?.["rule_line"], 1);
      }
      const status = await waitFor("the hits of the new rules", () => {
        const s = service.status();
        return s.rules[0]?.hits === 8 ? s : undefined;
      });
      assert.deepEqual(
        status.rules.map((r) => [r.line, r.text, r.hits]),
        [
          [1, "!127.0.0.1", 8],
          [2, "127.0.0.0/8", 0],
        ],
      );
      assert.equal(status["workers"], Number(workers));
      assert.equal(status["requests"], 12);
      // every count once, whichever thread counted it
      const text = await renderMetrics(metrics.registry, (await service.metricFamilies?.()) ?? []);
      const mode = 'mode="http-proxy"';
      assert.equal(
        sample(
          text,
          `egress_router_decisions_total{${mode},action="allow",reason="range-matched",audit="false"}`,
        ),
        4,
      );
      assert.equal(
        sample(
          text,
          `egress_router_decisions_total{${mode},action="deny",reason="address-matched",audit="false"}`,
        ),
        8,
      );
      assert.equal(
        sample(text, `egress_router_connections_opened_total{${mode},listener="0"}`),
        12,
      );
      assert.equal(sample(text, `egress_router_connections_active{${mode},listener="0"}`), 0);
      assert.equal(
        sample(
          text,
          `egress_router_request_duration_seconds_count{${mode},method="GET",status="4xx"}`,
        ),
        8,
      );
      assert.equal(sample(text, "egress_router_ready"), 0, "the host's own gauges stay its own");
      // the recent denials, from whichever thread saw them
      const activity = await waitFor("the denials in the activity", () => {
        const a = service.threadActivity?.() ?? [own.snapshot()];
        const denials = a.flatMap((x) => x.denials);
        return denials.length >= 8 ? denials : undefined;
      });
      assert.equal(activity[0]?.reason, "address-matched");
      await service.stop(0);
      const refused = await rawExchange(port, get(origin.port)).catch(() => ({ text: "" }));
      assert.equal(statusOf(refused.text), 0, "nothing listens after stop");
    });
  });
}

describe("http-proxy worker threads", () => {
  it("a thread that dies is replaced; the port stays served and ready meanwhile; its counts are kept", async (t) => {
    const origin = await startOrigin(t);
    const { service } = start(t, "2", "127.0.0.0/8");
    const metrics = createMetrics({ version: "0", mode: "http-proxy" });
    t.after(() => metrics.close());
    await service.start();
    const threads = service as WorkerService;
    const port = service.status().listeners[0]?.port ?? 0;
    // 20 new connections: the kernel gives the thread that will die some of them
    for (let i = 0; i < 20; i++)
      assert.equal(statusOf((await rawExchange(port, get(origin.port))).text), 200);
    await waitFor("both threads' reports", () =>
      service.status()["requests"] === 20 ? true : undefined,
    );
    const victim = threads.threads[0];
    assert.ok(victim);
    await victim.terminate();
    // one thread listens: still up (readiness holds), and the port is served
    const during = service.status();
    assert.equal(during["workersListening"], 1);
    assert.equal(during.listeners[0]?.up, true);
    for (let i = 0; i < 4; i++)
      assert.equal(statusOf((await rawExchange(port, get(origin.port))).text), 200);
    const after = await waitFor("the replacement", () => {
      const s = service.status();
      return s["workersListening"] === 2 && s["workerRestarts"] === 1 ? s : undefined;
    });
    assert.notEqual(threads.threads[0], victim, "a new thread");
    for (let i = 0; i < 6; i++)
      assert.equal(statusOf((await rawExchange(port, get(origin.port))).text), 200);
    await waitFor("all 30 requests in the totals", () =>
      service.status()["requests"] === 30 ? true : undefined,
    );
    assert.equal(after.rules[0]?.hits !== undefined, true);
    const text = await renderMetrics(metrics.registry, (await service.metricFamilies?.()) ?? []);
    assert.equal(
      sample(
        text,
        'egress_router_decisions_total{mode="http-proxy",action="allow",reason="range-matched",audit="false"}',
      ),
      30,
      "the dead thread's counts are kept",
    );
  });

  it("stop lets requests in flight on every thread finish, then every thread ends", async (t) => {
    const slow = await startOrigin(t, (_req, res) =>
      setTimeout(() => res.end("late but whole"), 600),
    );
    const { service } = start(t, "2", "127.0.0.0/8");
    await service.start();
    const threads = [...(service as WorkerService).threads];
    const port = service.status().listeners[0]?.port ?? 0;
    // enough connections that the kernel gives some to each thread
    const inFlight = Array.from({ length: 12 }, () =>
      rawExchange(port, get(slow.port), { waitMs: 10_000 }),
    );
    await waitFor("12 requests at the origin", () => (slow.seen.length >= 12 ? true : undefined));
    const exits = threads.map((th) => once(th, "exit"));
    await service.stop(5_000);
    for (const r of await Promise.all(inFlight)) {
      assert.equal(statusOf(r.text), 200);
      assert.ok(r.text.endsWith("late but whole"));
    }
    await Promise.all(exits);
    assert.ok(
      threads.every((th) => th.threadId === -1),
      "every thread has ended",
    );
  });

  it("the connection limit counts the connections of all threads together", async (t) => {
    const { service } = start(t, "2", "127.0.0.0/8", { EGRESS_HTTP_PROXY_MAX_CONNECTIONS: "20" });
    await service.start();
    const port = service.status().listeners[0]?.port ?? 0;
    const open: net.Socket[] = [];
    let refusedEarly = "";
    t.after(() => {
      for (const s of open) s.destroy();
    });
    // 20 connections: a limit split in halves per thread would refuse one unless the kernel
    // happened to spread them exactly 10 and 10
    for (let i = 0; i < 20; i++) {
      const s = net.connect({ port, host: "127.0.0.1" });
      s.on("error", () => undefined);
      s.on("data", (d: Buffer) => (refusedEarly += d.toString("latin1")));
      await once(s, "connect");
      open.push(s);
    }
    await waitFor("20 open connections", () =>
      service.status().activeConnections === 20 ? true : undefined,
    );
    const over = await rawExchange(port, get(1));
    assert.equal(statusOf(over.text), 503, over.text);
    assert.match(over.text, /20 connections are open/);
    assert.equal(refusedEarly, "", "none of the first 20 was refused");
    open.pop()?.destroy();
    await waitFor("one connection less", () =>
      service.status().activeConnections === 19 ? true : undefined,
    );
    const again = await rawExchange(port, get(1));
    assert.notEqual(statusOf(again.text), 503, "room again after a close");
  });
});

// Signals to a real router process: SIGTERM drains (readiness false first, no new
// connections, open ones finish, exit 0), the drain time bounds it, SIGHUP reloads, and
// bad start-up configuration exits 1 with every problem.
import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import type { TestContext } from "node:test";
import { startChildDaemon } from "./helpers/child.ts";
import { createConfigMapDir } from "./helpers/configmap.ts";
import { echoSetting } from "./helpers/echo-mode.ts";
import { freePort, lineClient } from "./helpers/net.ts";

async function setup(t: TestContext, drainSeconds: string, rules?: string) {
  const echoPort = await freePort();
  const adminPort = await freePort();
  const cm = await createConfigMapDir({ rules: rules ?? `listen ${echoPort}\nreply v1\n` });
  t.after(() => cm.remove());
  const d = startChildDaemon(t, {
    [`${echoSetting}_FILE`]: cm.path("rules"),
    EGRESS_ADMIN_ADDRESS: "127.0.0.1",
    EGRESS_ADMIN_PORT: String(adminPort),
    EGRESS_DRAIN_SECONDS: drainSeconds,
  });
  const admin = `http://127.0.0.1:${adminPort}`;
  return { d, cm, echoPort, admin };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

describe("signals", () => {
  it("SIGTERM: readiness false first, no new connections, open ones finish, exit 0", async (t) => {
    const { d, echoPort, admin } = await setup(t, "20");
    await d.waitLog("router ready");
    assert.equal((await fetch(`${admin}/readyz`)).status, 200);
    const c = await lineClient(echoPort);
    t.after(() => c.close());
    assert.equal(await c.ask("before"), "v1 before");

    const t0 = Date.now();
    d.child.kill("SIGTERM");
    const started = await d.waitLog("shutdown started");
    assert.equal(started["signal"], "SIGTERM");
    assert.equal(started["drain_seconds"], 20);

    const ready = await fetch(`${admin}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /^not ready: shutting down/);
    assert.equal(await refused(echoPort), true, "new connections are refused while draining");
    assert.equal(await c.ask("during drain"), "v1 during drain", "open connection keeps working");

    await c.close();
    const { code } = await d.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 10_000, "exits as soon as the last connection finished");
    const closed = d.logs.find((l) => l.msg === "connection closed");
    assert.equal(closed?.["end"], "done");
    assert.ok(d.logs.some((l) => l.msg === "shutdown complete"));
  });

  it("SIGTERM: a connection still open at the end of the drain time is closed; exit 0", async (t) => {
    const { d, echoPort } = await setup(t, "1");
    await d.waitLog("router ready");
    const c = await lineClient(echoPort);
    t.after(() => c.close());
    assert.equal(await c.ask("x"), "v1 x");
    const t0 = Date.now();
    d.child.kill("SIGTERM");
    await c.closed; // the router closed it
    const waited = Date.now() - t0;
    const { code } = await d.exited;
    assert.equal(code, 0);
    assert.ok(waited >= 900, `closed after ${waited} ms, before the 1 s drain time`);
    assert.ok(waited < 8000, `closed after ${waited} ms`);
    const closed = await d.waitLog("connection closed");
    assert.equal(closed["end"], "drain");
  });

  it("not ready during network set-up; SIGTERM then still ends in a clean exit 0", async (t) => {
    const echoPort = await freePort();
    const adminPort = await freePort();
    const cm = await createConfigMapDir({ rules: `listen ${echoPort}\nreply v1\n` });
    t.after(() => cm.remove());
    const d = startChildDaemon(t, {
      [`${echoSetting}_FILE`]: cm.path("rules"),
      EGRESS_ADMIN_ADDRESS: "127.0.0.1",
      EGRESS_ADMIN_PORT: String(adminPort),
      ECHO_TEST_PREPARE_MS: "1500",
    });
    await d.waitLog("admin server listening");
    const health = await fetch(`http://127.0.0.1:${adminPort}/healthz`);
    assert.equal(health.status, 200, "alive while setting up");
    const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(await ready.text(), "not ready: network set-up not done; listeners starting\n");
    d.child.kill("SIGTERM"); // during set-up: kept, acted on once the start is over
    const { code, signal } = await d.exited;
    assert.equal(signal, null);
    assert.equal(code, 0);
    assert.ok(d.logs.some((l) => l.msg === "shutdown complete"));
  });

  it("SIGHUP forces a reload from the files", async (t) => {
    const { d, echoPort } = await setup(t, "1");
    await d.waitLog("router ready");
    d.child.kill("SIGHUP");
    await d.waitLog("reload requested", (l) => l["signal"] === "SIGHUP");
    const applied = await d.waitLog("config applied", (l) => l["trigger"] === "signal");
    assert.equal(applied["setting"], echoSetting);
    const c = await lineClient(echoPort);
    t.after(() => c.close());
    assert.equal(await c.ask("y"), "v1 y", "still serving after SIGHUP");
    d.child.kill("SIGTERM");
    assert.equal((await d.exited).code, 0);
  });

  it("bad rules at start: exit 1 with every problem, naming setting and line", async (t) => {
    const { d } = await setup(t, "1", "listen 1\nreply a\nnope\n");
    const { code } = await d.exited;
    assert.equal(code, 1);
    assert.equal(
      d.stderr(),
      'ECHO_TEST_RULES line 3: Cannot parse "nope": not a rule; use "listen <port>", "reply <prefix>", "deny <word>" or "name <host> <address>..."\n',
    );
  });

  it("admin port in use: exit 1 naming the setting and the fix", async (t) => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen({ host: "127.0.0.1", port: 0 }, r));
    t.after(() => new Promise((r) => busy.close(r)));
    const port = (busy.address() as AddressInfo).port;
    const cm = await createConfigMapDir({ rules: "listen 0\nreply v1\n" });
    t.after(() => cm.remove());
    const d = startChildDaemon(t, {
      [`${echoSetting}_FILE`]: cm.path("rules"),
      EGRESS_ADMIN_ADDRESS: "127.0.0.1",
      EGRESS_ADMIN_PORT: String(port),
    });
    assert.equal((await d.exited).code, 1);
    assert.equal(
      d.stderr(),
      `EGRESS_ADMIN_PORT: Cannot listen on 127.0.0.1 port ${port}: the port is in use; choose another EGRESS_ADMIN_PORT or EGRESS_ADMIN_ADDRESS\n`,
    );
  });

  it("bad daemon settings: every problem at once", async (t) => {
    const cm = await createConfigMapDir({ rules: "listen 0\nreply v1\n" });
    t.after(() => cm.remove());
    const d = startChildDaemon(t, {
      [`${echoSetting}_FILE`]: cm.path("rules"),
      EGRESS_ADMIN_ADDRESS: "localhost",
      EGRESS_ADMIN_PORT: "70000",
      EGRESS_DRAIN_SECONDS: "-1",
      EGRESS_LOG_FORMAT: "xml",
    });
    assert.equal((await d.exited).code, 1);
    assert.deepEqual(d.stderr().trimEnd().split("\n"), [
      'EGRESS_ADMIN_ADDRESS: Cannot use "localhost": not an IP address; use e.g. "::", "0.0.0.0" or "127.0.0.1"',
      'EGRESS_ADMIN_PORT: Cannot use "70000": not a port number; use 1-65535, or 0 to turn the admin server off',
      'EGRESS_DRAIN_SECONDS: Cannot use "-1": not a number of seconds; use a number from 0 to 86400, e.g. 30',
      'EGRESS_LOG_FORMAT: Cannot use "xml": not a log format; use "auto", "json" or "text"',
    ]);
  });
});

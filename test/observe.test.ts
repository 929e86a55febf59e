// Logs, metrics and the admin server, driven through the real daemon host: real echo
// connections for decisions and closes, and the real diagnostics channels for the events
// other modes publish (audit decisions, upstream errors, resolutions).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  publishConnectLatency,
  publishDecision,
  publishHa,
  publishRequest,
  publishResolve,
  publishConnectionClose,
  publishConnectionOpen,
  publishUpstreamError,
  publishUpstreamHealth,
} from "../src/observe/events.ts";
import { formatText } from "../src/observe/log.ts";
import { createConfigMapDir } from "./helpers/configmap.ts";
import { startEchoDaemon } from "./helpers/daemon.ts";
import { echoSetting } from "./helpers/echo-mode.ts";
import { freePort, lineClient, waitFor } from "./helpers/net.ts";

const rules = "listen 0\nreply v1\ndeny blocked\nname api.example.test 192.0.2.7 192.0.2.8\n";

/** One DNS-proxy connection's events, as a forwarding thread publishes them. */
function publishDnsProxyConnection(): void {
  publishConnectionOpen({ mode: "dns-proxy", listener: "5432", client: "10.128.0.15:51240" });
  publishConnectionClose({
    mode: "dns-proxy",
    listener: "5432",
    client: "10.128.0.15:51240",
    destination: "db.example.test:5432",
    address: "192.0.2.9",
    ruleLine: 1,
    bytesFromClient: 3,
    bytesToClient: 4,
    durationMs: 5,
    end: "done",
  });
}

describe("logs", () => {
  it("one decision line and one close line per connection, with fixed fields", async (t) => {
    const d = await startEchoDaemon(t, rules);
    const from = d.logs.length;
    const c = await lineClient(d.port);
    assert.equal(await c.ask("hello"), "v1 hello");
    await c.close();
    const decided = await d.waitLog("connection decided", from);
    const closed = await d.waitLog("connection closed", from);
    assert.deepEqual(Object.keys(decided).sort(), [
      "action",
      "audit",
      "client",
      "destination",
      "event",
      "level",
      "mode",
      "msg",
      "reason",
      "rule_line",
      "time",
    ]);
    assert.equal(decided["action"], "allow");
    assert.equal(decided["rule_line"], 2);
    assert.match(String(decided["client"]), /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(Object.keys(closed).sort(), [
      "bytes_from_client",
      "bytes_to_client",
      "client",
      "duration_ms",
      "end",
      "event",
      "level",
      "listener",
      "mode",
      "msg",
      "time",
    ]);
    assert.equal(closed["bytes_from_client"], 6);
    assert.equal(closed["bytes_to_client"], 9);
    assert.equal(closed["end"], "done");
    assert.equal(closed["listener"], String(d.port));
    assert.match(String(closed["time"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(d.logs.slice(from).filter((l) => l.msg === "connection decided").length, 1);
    assert.equal(d.logs.slice(from).filter((l) => l.msg === "connection closed").length, 1);
  });

  it("a denial is a warn line with its reason and rule line", async (t) => {
    const d = await startEchoDaemon(t, rules);
    const from = d.logs.length;
    const c = await lineClient(d.port);
    assert.equal(await c.ask("blocked please"), "denied");
    await c.closed;
    const decided = await d.waitLog("connection decided", from);
    assert.equal(decided.level, "warn");
    assert.equal(decided["action"], "deny");
    assert.equal(decided["reason"], "denied-by-rule");
    assert.equal(decided["rule_line"], 3);
    assert.equal((await d.waitLog("connection closed", from))["end"], "denied");
  });

  it("audit mode: a would-be denial is logged, counted and listed, flagged audit", async (t) => {
    const d = await startEchoDaemon(t, rules);
    const from = d.logs.length;
    publishDecision({
      mode: "http-proxy",
      client: "127.0.0.1:40000",
      destination: "internal.example.test:443",
      address: "192.0.2.50",
      action: "allow",
      reason: "deny-rule-matched",
      ruleLine: 4,
      audit: true,
    });
    const line = await d.waitLog("connection decided", from);
    assert.equal(line.level, "warn");
    assert.equal(line["audit"], true);
    assert.equal(line["action"], "allow");
    assert.equal(line["reason"], "deny-rule-matched");
    const metrics = (await d.get("/metrics")).body;
    assert.match(
      metrics,
      /^egress_router_decisions_total\{mode="http-proxy",action="allow",reason="deny-rule-matched",audit="true"\} 1$/m,
    );
    const status = JSON.parse((await d.get("/status.json")).body) as {
      activity: { denials: { audit: boolean; destination: string }[] };
    };
    assert.equal(status.activity.denials[0]?.audit, true);
    assert.match((await d.get("/")).body, /audit: allowed/);
  });

  it("never writes credentials or full URLs with secrets, in logs, status or page", async (t) => {
    const d = await startEchoDaemon(t, rules);
    const from = d.logs.length;
    publishDecision({
      mode: "http-proxy",
      client: "127.0.0.1:40001",
      destination: "http://alice:s3cr3t-pw@example.test/path?token=t0ken-value",
      address: undefined,
      action: "deny",
      reason: "no-rule-matched",
      ruleLine: undefined,
      audit: false,
    });
    publishDecision({
      mode: "http-proxy",
      client: "127.0.0.1:40002",
      destination: "bob:hunter2-pw@example.test:443",
      address: undefined,
      action: "deny",
      reason: "no-rule-matched",
      ruleLine: undefined,
      audit: false,
    });
    publishUpstreamError({
      mode: "http-proxy",
      destination: "example.test:80",
      address: "192.0.2.9",
      kind: "refused",
      message:
        "GET https://carol:c4rol-pw@example.test/?api_key=k3y-value failed; Proxy-Authorization: Basic Y2Fyb2w6YzRyb2w=",
    });
    publishResolve({
      name: "example.test",
      ok: false,
      addresses: [],
      ttlSeconds: undefined,
      error: "lookup via https://dave:d4ve-pw@resolver.test failed",
      stale: false,
    });
    await waitFor("four lines", () => (d.logs.length - from >= 4 ? true : undefined));
    const everything = [
      JSON.stringify(d.logs.slice(from)),
      (await d.get("/status.json")).body,
      (await d.get("/")).body,
    ].join("\n");
    for (const secret of [
      "s3cr3t-pw",
      "t0ken-value",
      "hunter2-pw",
      "c4rol-pw",
      "k3y-value",
      "Y2Fyb2w6YzRyb2w",
      "d4ve-pw",
    ]) {
      assert.ok(!everything.includes(secret), `"${secret}" leaked`);
    }
    // what is left still says what happened
    assert.ok(everything.includes("http://[redacted]@example.test/path?[redacted]"));
    assert.ok(everything.includes("[redacted]@example.test:443"));
    assert.ok(everything.includes("example.test:80"));
  });

  it("EGRESS_ROUTER_DEBUG: debug lines (connection opened)", async (t) => {
    const d = await startEchoDaemon(t, rules, { env: { EGRESS_ROUTER_DEBUG: "1" } });
    const from = d.logs.length;
    const c = await lineClient(d.port);
    await c.ask("x");
    await c.close();
    const opened = await d.waitLog("connection opened", from);
    assert.equal(opened.level, "debug");
  });

  it("EGRESS_DNS_PROXY_DEBUG: every DNS-proxy connection and resolution at info", async (t) => {
    const d = await startEchoDaemon(t, rules, { env: { EGRESS_DNS_PROXY_DEBUG: "1" } });
    const from = d.logs.length;
    publishDnsProxyConnection();
    assert.equal((await d.waitLog("connection opened", from)).level, "info");
    const closed = await d.waitLog("connection closed", from);
    assert.equal(closed.level, "info");
    assert.equal(closed["mode"], "dns-proxy");
    assert.equal(closed["destination"], "db.example.test:5432");
    publishResolve({
      name: "db.example.test",
      ok: true,
      addresses: ["192.0.2.20"],
      ttlSeconds: 30,
      error: undefined,
      stale: false,
    });
    const resolved = await d.waitLog("name resolved", from);
    assert.deepEqual(resolved["addresses"], ["192.0.2.20"]);
  });

  it("without debug settings: no connection-opened lines; DNS-proxy closes only at debug", async (t) => {
    const d = await startEchoDaemon(t, rules);
    const from = d.logs.length;
    // Published synchronously: logged (or not) before the echo connection below even starts.
    publishDnsProxyConnection();
    const c = await lineClient(d.port);
    await c.ask("x");
    await c.close();
    await d.waitLog("connection closed", from); // the echo mode's (an HTTP proxy's) close
    const lines = d.logs.slice(from);
    assert.deepEqual(
      lines.filter((l) => l.msg === "connection closed").map((l) => l["mode"]),
      ["http-proxy"],
    );
    assert.equal(lines.filter((l) => l.msg === "connection opened").length, 0);
  });

  it("an address going down or coming back is one line, with its cause", async (t) => {
    const d = await startEchoDaemon(t, rules);
    const from = d.logs.length;
    const retryAt = Date.parse("2026-01-02T03:04:05.000Z");
    publishUpstreamHealth({
      mode: "dns-proxy",
      destination: "db.example.test:5432",
      address: "192.0.2.30",
      up: false,
      cause: "connect",
      error: "refused",
      retryAt,
    });
    publishUpstreamHealth({
      mode: "dns-proxy",
      destination: "db.example.test:5432",
      address: "192.0.2.31",
      up: false,
      cause: "check",
      error: "timeout",
      retryAt: Infinity,
    });
    publishUpstreamHealth({
      mode: "dns-proxy",
      destination: "db.example.test:5432",
      address: "192.0.2.30",
      up: true,
      cause: "check",
      error: undefined,
      retryAt: undefined,
    });
    await d.waitLog("upstream back up", from);
    const lines = d.logs
      .slice(from)
      .filter((l) => String(l.msg).startsWith("upstream "))
      .map(({ time: _time, ...rest }) => rest);
    assert.deepEqual(lines, [
      {
        level: "warn",
        msg: "upstream marked down",
        event: "upstream-health",
        mode: "dns-proxy",
        destination: "db.example.test:5432",
        address: "192.0.2.30",
        cause: "connect",
        kind: "refused",
        retry_at: "2026-01-02T03:04:05.000Z",
      },
      {
        level: "warn",
        msg: "upstream marked down",
        event: "upstream-health",
        mode: "dns-proxy",
        destination: "db.example.test:5432",
        address: "192.0.2.31",
        cause: "check",
        kind: "timeout",
      },
      {
        level: "info",
        msg: "upstream back up",
        event: "upstream-health",
        mode: "dns-proxy",
        destination: "db.example.test:5432",
        address: "192.0.2.30",
        cause: "check",
      },
    ]);
  });

  it("text format reads as one line per event", () => {
    const line = formatText(
      JSON.stringify({
        level: "info",
        time: "2025-01-02T03:04:05.678Z",
        msg: "connection closed",
        client: "127.0.0.1:5",
        end: "done",
        problems: ["a b"],
      }),
      false,
    );
    assert.equal(
      line,
      '03:04:05.678 INFO  connection closed  client=127.0.0.1:5 end=done problems=["a b"]\n',
    );
  });

  it("is human-readable on a terminal and JSON on a pipe (auto format)", async (t) => {
    const cm = await createConfigMapDir({ rules: "listen 0\nreply v1\n" });
    t.after(() => cm.remove());
    const root = fileURLToPath(new URL("..", import.meta.url));
    const env = {
      [`${echoSetting}_FILE`]: cm.path("rules"),
      EGRESS_ADMIN_ADDRESS: "127.0.0.1",
      EGRESS_ADMIN_PORT: String(await freePort()),
    };
    const cmd = `exec ${root}node_modules/node/bin/node --disable-warning=ExperimentalWarning ${root}test/fixtures/echo-daemon.ts`;
    // `script` gives the child a real pseudo-terminal as stdout
    const child = spawn("script", ["-qfec", cmd, "/dev/null"], {
      env: { ...env, PATH: process.env["PATH"] ?? "/usr/bin:/bin", TERM: "dumb" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    const exited = new Promise((r) => child.once("exit", r));
    t.after(async () => {
      if (child.exitCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    });
    await waitFor("router ready on the terminal", () =>
      out.includes("router ready") ? true : undefined,
    );
    child.stdin.write("\x03"); // Ctrl-C through the terminal: SIGINT, a graceful stop
    await exited;
    const line = out.split(/\r?\n/).find((l) => l.includes("router ready")) ?? "";
    assert.doesNotMatch(line, /^\{/, "not JSON on a terminal");
    assert.match(line, /\d\d:\d\d:\d\d\.\d{3} .*INFO.* router ready {2}mode=echo url=http/);
    assert.match(out, /shutdown complete/);
  });
});

describe("metrics and admin server", () => {
  it("exports every metric family, with no host, address or client in any label", async (t) => {
    const d = await startEchoDaemon(t, rules);
    const c = await lineClient(d.port);
    await c.ask("x");
    await c.close();
    await d.waitLog("connection closed");
    publishUpstreamError({
      mode: "dns-proxy",
      destination: "db.example.test:5432",
      address: "192.0.2.30",
      kind: "timeout",
      message: "connect timed out",
    });
    publishConnectLatency({ mode: "dns-proxy", seconds: 0.012 });
    publishRequest({ mode: "http-proxy", method: "PROPFIND", status: 403, seconds: 0.2 });
    publishResolve({
      name: "db.example.test",
      ok: false,
      addresses: ["192.0.2.30"],
      ttlSeconds: undefined,
      error: "ETIMEOUT",
      stale: true,
    });
    publishHa({ kind: "role", role: "holder", holding: true, takeoverSeconds: 0.04 });
    publishHa({ kind: "split-brain", detected: true });
    const res = await d.get("/metrics");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const body = res.body;
    const families = new Set([...body.matchAll(/^# TYPE (egress_router_\w+) /gm)].map((m) => m[1]));
    assert.deepEqual([...families].sort(), [
      "egress_router_build_info",
      "egress_router_config_last_applied_timestamp_seconds",
      "egress_router_config_last_reload_successful",
      "egress_router_config_reloads_total",
      "egress_router_connections_active",
      "egress_router_connections_closed_total",
      "egress_router_connections_opened_total",
      "egress_router_decisions_total",
      "egress_router_dns_resolutions_total",
      "egress_router_dns_stale_answers_total",
      "egress_router_draining",
      "egress_router_ha_holder",
      "egress_router_ha_role",
      "egress_router_ha_role_changes_total",
      "egress_router_ha_split_brain",
      "egress_router_ha_split_brains_total",
      "egress_router_ha_takeover_seconds",
      "egress_router_ready",
      "egress_router_request_duration_seconds",
      "egress_router_transferred_bytes_total",
      "egress_router_upstream_connect_duration_seconds",
      "egress_router_upstream_connect_errors_total",
    ]);
    assert.match(body, /^egress_router_ha_holder 1$/m);
    assert.match(body, /^egress_router_ha_role\{role="holder"\} 1$/m);
    assert.match(body, /^egress_router_ha_role\{role="standby"\} 0$/m);
    assert.match(body, /^egress_router_ha_role_changes_total\{role="holder"\} 1$/m);
    assert.match(body, /^egress_router_ha_takeover_seconds_bucket\{le="0\.05"\} 1$/m);
    assert.match(body, /^egress_router_ha_split_brain 1$/m);
    assert.match(body, /^egress_router_ha_split_brains_total 1$/m);
    const listener = String(d.port);
    assert.match(
      body,
      new RegExp(
        `^egress_router_connections_opened_total\\{mode="http-proxy",listener="${listener}"\\} 1$`,
        "m",
      ),
    );
    assert.match(
      body,
      new RegExp(
        `^egress_router_connections_active\\{mode="http-proxy",listener="${listener}"\\} 0$`,
        "m",
      ),
    );
    assert.match(
      body,
      /^egress_router_transferred_bytes_total\{mode="http-proxy",direction="from-client"\} 2$/m,
    );
    assert.match(
      body,
      /^egress_router_transferred_bytes_total\{mode="http-proxy",direction="to-client"\} 5$/m,
    );
    assert.match(
      body,
      /^egress_router_upstream_connect_errors_total\{mode="dns-proxy",kind="timeout"\} 1$/m,
    );
    assert.match(
      body,
      /^egress_router_request_duration_seconds_count\{mode="http-proxy",method="other",status="4xx"\} 1$/m,
    );
    assert.match(body, /^egress_router_dns_resolutions_total\{result="failed"\} 1$/m);
    assert.match(body, /^egress_router_dns_stale_answers_total 1$/m);
    assert.match(body, /^egress_router_ready 1$/m);
    assert.match(body, /^egress_router_build_info\{version="[^"]+",mode="echo"\} 1$/m);
    // no label value anywhere looks like an address, a host name or a client
    for (const m of body.matchAll(/^egress_router_\w+\{([^}]*)\}/gm)) {
      for (const [, value] of (m[1] ?? "").matchAll(/\w+="([^"]*)"/g)) {
        assert.doesNotMatch(
          value ?? "",
          /\d+\.\d+\.\d+\.\d+|:.*:|example|\.test/,
          `label value "${value}"`,
        );
      }
    }
  });

  it("health, readiness, status and read-only behaviour", async (t) => {
    const d = await startEchoDaemon(t, rules);
    const health = await d.get("/healthz");
    assert.equal(health.status, 200);
    assert.equal(health.body, "ok\n");
    const ready = await d.get("/readyz");
    assert.equal(ready.status, 200);
    assert.equal(ready.body, "ready\n");
    const status = JSON.parse((await d.get("/status.json")).body) as Record<string, unknown>;
    assert.equal(status["mode"], "echo");
    assert.equal(status["ready"], true);
    const post = await fetch(`${d.admin}/readyz`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    const head = await fetch(`${d.admin}/metrics`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    const missing = await d.get("/nope");
    assert.equal(missing.status, 404);
    const page = await d.get("/");
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    assert.equal(page.headers.get("cache-control"), "no-store");
    assert.doesNotMatch(page.body, /https?:\/\/(?!127\.0\.0\.1)/, "no external assets");
  });
});

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError } from "./config-error.ts";
import { readHttpProxySettings, usableCpus } from "./http-proxy-settings.ts";

describe("readHttpProxySettings", () => {
  it("defaults: OpenShift's port, any CONNECT port, system resolver", () => {
    const s = readHttpProxySettings({}, {});
    assert.equal(s.port, 8080);
    assert.equal(s.address, "::");
    assert.equal(s.connectPorts, undefined);
    assert.equal(s.audit, false);
    assert.deepEqual(s.dnsServers, []);
    assert.deepEqual(
      [s.headerTimeoutMs, s.keepAliveTimeoutMs, s.idleTimeoutMs, s.connectTimeoutMs, s.dnsCacheMs],
      [30_000, 60_000, 900_000, 10_000, 5_000],
    );
    assert.ok(s.workers >= 1);
  });

  it("reads every setting; flags win over the environment", () => {
    const s = readHttpProxySettings(
      {
        EGRESS_HTTP_PROXY_CONNECT_PORTS: "443, 8443 10000-10100",
        EGRESS_HTTP_PROXY_AUDIT: "true",
        EGRESS_HTTP_PROXY_WORKERS: "3",
        EGRESS_HTTP_PROXY_DNS_SERVERS: "10.0.0.10,10.0.0.11:5353 [2001:db8::53]:53",
        EGRESS_HTTP_PROXY_HEADER_TIMEOUT: "2.5",
        EGRESS_HTTP_PROXY_DNS_CACHE_SECONDS: "0",
      },
      { "http-proxy-workers": "2" },
    );
    assert.deepEqual(s.connectPorts, [
      { from: 443, to: 443 },
      { from: 8443, to: 8443 },
      { from: 10000, to: 10100 },
    ]);
    assert.equal(s.audit, true);
    assert.equal(s.workers, 2);
    assert.deepEqual(s.dnsServers, ["10.0.0.10", "10.0.0.11:5353", "[2001:db8::53]:53"]);
    assert.equal(s.headerTimeoutMs, 2500);
    assert.equal(s.dnsCacheMs, 0);
  });

  it("timeouts in seconds or as durations, as the DNS proxy's settings take them", () => {
    const s = readHttpProxySettings(
      {
        EGRESS_HTTP_PROXY_HEADER_TIMEOUT: "500ms",
        EGRESS_HTTP_PROXY_KEEPALIVE_TIMEOUT: "90s",
        EGRESS_HTTP_PROXY_IDLE_TIMEOUT: "15m",
        EGRESS_HTTP_PROXY_CONNECT_TIMEOUT: "2.5",
        EGRESS_HTTP_PROXY_DNS_TIMEOUT: "1h",
      },
      {},
    );
    assert.deepEqual(
      [
        s.headerTimeoutMs,
        s.keepAliveTimeoutMs,
        s.idleTimeoutMs,
        s.connectTimeoutMs,
        s.dnsTimeoutMs,
      ],
      [500, 90_000, 900_000, 2500, 3_600_000],
    );
    for (const bad of ["0s", "0ms", "5 minutes", "-1"]) {
      assert.throws(
        () => readHttpProxySettings({ EGRESS_HTTP_PROXY_IDLE_TIMEOUT: bad }, {}),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.problems[0]?.setting === "EGRESS_HTTP_PROXY_IDLE_TIMEOUT" &&
          /(a timeout of 0|not a duration)/.test(err.problems[0]?.message ?? ""),
        bad,
      );
    }
  });

  it("collects every problem, each naming its setting", () => {
    try {
      readHttpProxySettings(
        {
          EGRESS_HTTP_PROXY_PORT: "0",
          EGRESS_HTTP_PROXY_ADDRESS: "localhost",
          EGRESS_HTTP_PROXY_AUDIT: "maybe",
          EGRESS_HTTP_PROXY_CONNECT_PORTS: "443-80",
          EGRESS_HTTP_PROXY_MAX_CONNECTIONS: "0",
          EGRESS_HTTP_PROXY_CONNECT_TIMEOUT: "ten",
        },
        {},
      );
      assert.fail("accepted");
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(
        err.problems.map((p) => p.setting),
        [
          "EGRESS_HTTP_PROXY_ADDRESS",
          "EGRESS_HTTP_PROXY_PORT",
          "EGRESS_HTTP_PROXY_CONNECT_PORTS",
          "EGRESS_HTTP_PROXY_AUDIT",
          "EGRESS_HTTP_PROXY_MAX_CONNECTIONS",
          "EGRESS_HTTP_PROXY_CONNECT_TIMEOUT",
        ],
      );
      assert.match(err.problems[2]?.message ?? "", /"443-80" is not a port or a range of ports/);
    }
  });
});

describe("usableCpus", () => {
  it("is lowered to the cgroup quota, rounded up", (t) => {
    const dir = mkdtempSync(join(tmpdir(), "egress-router-cgroup-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "cpu.max"), "150000 100000\n");
    assert.equal(usableCpus(join(dir, "cpu.max")), Math.min(2, usableCpus(join(dir, "none"))));
    writeFileSync(join(dir, "cpu.max"), "max 100000\n");
    assert.equal(usableCpus(join(dir, "cpu.max")), usableCpus(join(dir, "none")));
    writeFileSync(join(dir, "cpu.max"), "20000 100000\n");
    assert.equal(usableCpus(join(dir, "cpu.max")), 1);
  });
});

// The resolver against a real UDP DNS server: every address, the reuse bounded by the
// setting and by the TTL, one query for concurrent asks, failures classified.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createResolver, ResolveError } from "../../src/net/resolver.ts";
import { captureEvents } from "../helpers/http-proxy.ts";
import { startScriptedDns } from "../helpers/dns.ts";

describe("resolver with DNS servers", () => {
  it("returns every IPv4 and IPv6 address, IPv4 first", async (t) => {
    const dns = await startScriptedDns(t, () => ["2001:db8::5", "203.0.113.5", "203.0.113.6"]);
    const r = createResolver({ servers: [dns.server], cacheMs: 0, timeoutMs: 2000 });
    assert.deepEqual(await r.resolve("multi.test"), ["203.0.113.5", "203.0.113.6", "2001:db8::5"]);
  });

  it("asks once for concurrent lookups of one name", async (t) => {
    const dns = await startScriptedDns(t, () => ["203.0.113.5"]);
    const r = createResolver({ servers: [dns.server], cacheMs: 0, timeoutMs: 2000 });
    await Promise.all([r.resolve("same.test"), r.resolve("same.test"), r.resolve("same.test")]);
    assert.equal(dns.queries.filter((q) => q.type === "A").length, 1);
  });

  it("never reuses an answer beyond its TTL (0 here), whatever the cache setting", async (t) => {
    const dns = await startScriptedDns(t, (_n, _t, i) => [`203.0.113.${i + 1}`]);
    const r = createResolver({ servers: [dns.server], cacheMs: 60_000, timeoutMs: 2000 });
    assert.deepEqual(await r.resolve("ttl0.test"), ["203.0.113.1"]);
    assert.deepEqual(await r.resolve("ttl0.test"), ["203.0.113.2"]);
    assert.equal(r.cached("ttl0.test"), undefined);
  });

  it("classifies failures: no such name, no answer in time", async (t) => {
    const dns = await startScriptedDns(t, (name) => (name === "gone.test" ? undefined : []));
    const r = createResolver({ servers: [dns.server], cacheMs: 0, timeoutMs: 300 });
    await assert.rejects(
      r.resolve("gone.test"),
      (e: unknown) => e instanceof ResolveError && e.failure === "not-found",
    );
    dns.silent = true;
    await assert.rejects(
      r.resolve("slow.test"),
      (e: unknown) => e instanceof ResolveError && e.failure === "timeout",
    );
  });

  it("publishes each real lookup on the resolve channel", async (t) => {
    const events = captureEvents(t, "resolve");
    const dns = await startScriptedDns(t, () => ["203.0.113.9"]);
    const r = createResolver({ servers: [dns.server], cacheMs: 0, timeoutMs: 2000 });
    await r.resolve("seen.test");
    assert.deepEqual(
      events.map((e) => [e["name"], e["ok"], e["addresses"]]),
      [["seen.test", true, ["203.0.113.9"]]],
    );
  });
});

describe("system resolver", () => {
  it("reuses an answer for the configured time (localhost, from /etc/hosts)", async () => {
    const r = createResolver({ servers: [], cacheMs: 60_000, timeoutMs: 2000 });
    const first = await r.resolve("localhost");
    assert.ok(first.includes("127.0.0.1") || first.includes("::1"));
    assert.deepEqual(r.cached("localhost"), first);
    const none = createResolver({ servers: [], cacheMs: 0, timeoutMs: 2000 });
    await none.resolve("localhost");
    assert.equal(none.cached("localhost"), undefined);
  });
});

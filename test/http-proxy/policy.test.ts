// The destination rules through the running proxy, with names resolved by a real DNS server
// (dnsmasq, or a scripted one for rebinding): 403 answers, address rules on what names
// resolve to, spellings that must not slip past a rule, no second lookup between check and
// connect, no lookup at all for names the rules deny, audit mode.
import assert from "node:assert/strict";
import http from "node:http";
import { describe, it } from "node:test";
import type { DecisionEvent } from "../../src/observe/events.ts";
import { startDnsmasq, startScriptedDns } from "../helpers/dns.ts";
import {
  captureEvents,
  getVia,
  headerOf,
  policyOf,
  rawExchange,
  startOrigin,
  startProxy,
  statusOf,
} from "../helpers/http-proxy.ts";

const req = (target: string, port: number, path = "/") =>
  `GET http://${target}:${port}${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;

describe("policy: answers and events", () => {
  it("a denied destination gets 403 with the reason and rule in one header and a one-line body", async (t) => {
    const origin = await startOrigin(t);
    const { port } = await startProxy(t, "!127.0.0.0/8\n*");
    const decisions = captureEvents(t, "decision");
    const r = await rawExchange(port, req("127.0.0.1", origin.port));
    assert.equal(statusOf(r.text), 403);
    const line = `Egress denied to "127.0.0.1:${origin.port}": range-matched: rule line 1 "!127.0.0.0/8"`;
    assert.equal(headerOf(r.text, "x-egress-router-error"), line);
    assert.ok(r.text.endsWith(`\r\n\r\n${line}\n`));
    assert.equal(origin.seen.length, 0);
    assert.equal(decisions.length, 1);
    assert.deepEqual(
      { ...decisions[0], client: undefined },
      {
        mode: "http-proxy",
        client: undefined,
        destination: `127.0.0.1:${origin.port}`,
        address: "127.0.0.1",
        action: "deny",
        reason: "range-matched",
        ruleLine: 1,
        audit: false,
      },
    );
  });

  it("an IDN rule in the answer: UTF-8 in the body, escaped in the header", async (t) => {
    const { port } = await startProxy(t, "!bücher.example\n127.0.0.0/8");
    const r = await rawExchange(port, req("xn--bcher-kva.example", 80));
    assert.equal(statusOf(r.text), 403);
    assert.equal(
      headerOf(r.text, "x-egress-router-error"),
      'Egress denied to "xn--bcher-kva.example:80": host-matched: rule line 1 "!b\\u00fccher.example"',
    );
    const body = Buffer.from(r.text.split("\r\n\r\n")[1] ?? "", "latin1").toString("utf8");
    assert.equal(
      body,
      'Egress denied to "xn--bcher-kva.example:80": host-matched: rule line 1 "!bücher.example"\n',
    );
  });

  it("* does not open the router's own loopback; an explicit range does", async (t) => {
    const origin = await startOrigin(t);
    const wide = await startProxy(t, "*");
    const r = await rawExchange(wide.port, req("127.0.0.1", origin.port));
    assert.equal(statusOf(r.text), 403);
    assert.match(r.text, /local-address: 127\.0\.0\.1 is a loopback/);
    const explicit = await startProxy(t, "127.0.0.1\n*");
    assert.equal(
      statusOf((await rawExchange(explicit.port, req("127.0.0.1", origin.port))).text),
      200,
    );
  });

  it("every spelling of a denied address literal is denied by the same rule", async (t) => {
    const forbidden = await startOrigin(t, undefined, "127.0.0.2");
    const { port } = await startProxy(t, "!127.0.0.2\n127.0.0.0/8");
    for (const spelling of [
      "127.0.0.2",
      "2130706434",
      "0x7f000002",
      "0x7f.0.0.2",
      "0177.0.0.2",
      "127.2",
      "127.0.0.2.",
      "[::ffff:127.0.0.2]",
      "[::ffff:7f00:2]",
      "[0:0:0:0:0:ffff:7f00:2]",
    ]) {
      const r = await rawExchange(port, req(spelling, forbidden.port));
      assert.equal(statusOf(r.text), 403, spelling);
      assert.match(r.text, /address-matched: rule line 1 "!127\.0\.0\.2"/, spelling);
    }
    assert.equal(forbidden.seen.length, 0);
  });
});

describe("policy: names, resolved by a real DNS server", () => {
  it("a name rule holds against case and a trailing dot, even where an address rule would allow", async (t) => {
    const evil = await startOrigin(t, undefined, "127.0.0.2");
    const dns = await startDnsmasq(t, {
      "evil.test": ["127.0.0.2"],
      "www.evil.test": ["127.0.0.2"],
    });
    const { port } = await startProxy(t, "!*.evil.test\n127.0.0.0/8", { dnsServers: [dns.server] });
    for (const spelling of ["evil.test", "EVIL.TEST", "evil.test.", "WWW.Evil.Test."]) {
      const r = await rawExchange(port, req(spelling, evil.port));
      assert.equal(statusOf(r.text), 403, spelling);
      assert.match(r.text, /domain-matched: rule line 1 "!\*\.evil\.test"/, spelling);
    }
    assert.equal(evil.seen.length, 0);
  });

  it("address rules apply to the addresses a name resolves to", async (t) => {
    const good = await startOrigin(t, undefined, "127.0.0.1");
    const internal = await startOrigin(t, undefined, "127.0.0.3", good.port);
    const dns = await startDnsmasq(t, {
      "ok.test": ["127.0.0.1"],
      "internal.test": ["127.0.0.3"],
      "mixed.test": ["127.0.0.1", "127.0.0.3"],
    });
    const { port } = await startProxy(t, "!127.0.0.3\n127.0.0.0/8", { dnsServers: [dns.server] });
    assert.equal(statusOf((await rawExchange(port, req("ok.test", good.port))).text), 200);
    const denied = await rawExchange(port, req("internal.test", good.port));
    assert.equal(statusOf(denied.text), 403);
    assert.match(denied.text, /resolved-address-matched: resolves to 127\.0\.0\.3, rule line 1/);
    const mixed = await rawExchange(port, req("mixed.test", good.port));
    assert.equal(statusOf(mixed.text), 403, "one denied address denies the name");
    assert.equal(internal.seen.length, 0);
    assert.equal(good.seen.length, 1);
  });

  it("*.domain covers the domain itself; without a final * the rest is denied", async (t) => {
    const origin = await startOrigin(t);
    const dns = await startDnsmasq(t, {
      "example.test": ["127.0.0.1"],
      "api.example.test": ["127.0.0.1"],
      "other.test": ["127.0.0.1"],
    });
    const { port } = await startProxy(t, "!*.example.test\n127.0.0.0/8", {
      dnsServers: [dns.server],
    });
    for (const name of ["example.test", "api.example.test"]) {
      const r = await rawExchange(port, req(name, origin.port));
      assert.equal(statusOf(r.text), 403, name);
      assert.match(r.text, /domain-matched: rule line 1 "!\*\.example\.test"/, name);
    }
    assert.equal(statusOf((await rawExchange(port, req("other.test", origin.port))).text), 200);
    const strict = await startProxy(t, "*.example.test", { dnsServers: [dns.server] });
    const r = await rawExchange(strict.port, req("other.test", origin.port));
    assert.equal(statusOf(r.text), 403);
    assert.match(r.text, /no-rule-matched: no rule allows it and there is no final "\*"/);
    assert.equal(origin.seen.length, 1);
  });

  it("an unknown name: 502 naming it", async (t) => {
    const dns = await startDnsmasq(t, {});
    const { port } = await startProxy(t, "*", { dnsServers: [dns.server] });
    const r = await rawExchange(port, req("nowhere.test", 80));
    assert.equal(statusOf(r.text), 502);
    assert.match(r.text, /Cannot resolve "nowhere\.test": no such name \(ENOTFOUND\)/);
  });

  it("a DNS server that does not answer: 504", async (t) => {
    const dns = await startScriptedDns(t, () => []);
    dns.silent = true;
    const { port } = await startProxy(t, "*", { dnsServers: [dns.server], resolveTimeoutMs: 300 });
    const r = await rawExchange(port, req("slow.test", 80));
    assert.equal(statusOf(r.text), 504);
    assert.match(r.text, /Cannot resolve "slow\.test": no answer within 0\.3 s/);
  });
});

describe("policy: DNS rebinding and lookups", () => {
  it("the address checked is the address dialed: a name that changes its answer cannot rebind", async (t) => {
    const good = await startOrigin(t, undefined, "127.0.0.1");
    const evil = await startOrigin(t, undefined, "127.0.0.2", good.port);
    // First answer 127.0.0.1 (allowed), every later one 127.0.0.2 (denied).
    const dns = await startScriptedDns(t, (name, type, n) =>
      name === "rebind.test" && type === "A" ? [n === 0 ? "127.0.0.1" : "127.0.0.2"] : [],
    );
    const { port } = await startProxy(t, "!127.0.0.2\n127.0.0.1", { dnsServers: [dns.server] });
    const first = await rawExchange(port, req("rebind.test", good.port));
    assert.equal(statusOf(first.text), 200);
    assert.equal(good.seen.length, 1);
    assert.equal(evil.seen.length, 0, "no second lookup slipped the denied address in");
    assert.equal(dns.queries.filter((q) => q.type === "A").length, 1, "one lookup per request");
    const second = await rawExchange(port, req("rebind.test", good.port));
    assert.equal(statusOf(second.text), 403, "the new answer is judged on its own");
    assert.equal(evil.seen.length, 0);
  });

  it("on one keep-alive connection each request is decided anew: another host, a name's new answer, a new policy", async (t) => {
    // A connection remembers its last target and decision for the next request to the same
    // server; none of these may ride on it.
    const good = await startOrigin(t, undefined, "127.0.0.1");
    const other = await startOrigin(t, undefined, "127.0.0.3", good.port);
    const dns = await startScriptedDns(t, (name, type, n) =>
      name === "rebind.test" && type === "A" ? [n === 0 ? "127.0.0.1" : "127.0.0.2"] : [],
    );
    const { proxy, port } = await startProxy(t, "!127.0.0.3\n!127.0.0.2\n127.0.0.0/8", {
      dnsServers: [dns.server],
    });
    const opened = captureEvents(t, "connection-open");
    const decided = captureEvents<DecisionEvent>(t, "decision");
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const status = async (url: string) => (await getVia(port, url, {}, agent)).status;
    const allowed = `http://127.0.0.1:${good.port}/`;
    const denied = `http://127.0.0.3:${good.port}/`;
    const name = `http://rebind.test:${good.port}/`;
    // A denial closes the connection: each group below runs on one connection of its own.
    assert.deepEqual(
      [await status(allowed), await status(allowed), await status(denied)],
      [200, 200, 403],
    );
    assert.equal(opened.length, 1, "the three requests shared a connection");
    assert.deepEqual([await status(name), await status(name)], [200, 403], "the new answer");
    assert.equal(opened.length, 2);
    assert.equal(await status(allowed), 200);
    proxy.setPolicy(policyOf("!127.0.0.1\n127.0.0.0/8"));
    assert.equal(await status(allowed), 403, "the new policy");
    assert.equal(opened.length, 3);
    assert.equal(other.seen.length, 0);
    assert.equal(good.seen.length, 4);
    // The repeated decision is published as the same event object (its log line is rendered
    // once); every other one is an event of its own with its own fields.
    assert.equal(decided[0], decided[1]);
    const fieldsOf = (e: DecisionEvent | undefined) => [e?.destination, e?.address, e?.action];
    assert.deepEqual(decided.slice(2).map(fieldsOf), [
      [`127.0.0.3:${good.port}`, "127.0.0.3", "deny"],
      [`rebind.test:${good.port}`, "127.0.0.1", "allow"],
      [`rebind.test:${good.port}`, "127.0.0.2", "deny"],
      [`127.0.0.1:${good.port}`, "127.0.0.1", "allow"],
      [`127.0.0.1:${good.port}`, "127.0.0.1", "deny"],
    ]);
    assert.equal(new Set(decided.slice(1)).size, 6);
  });

  it("a name the rules deny is never looked up", async (t) => {
    const dns = await startScriptedDns(t, () => ["127.0.0.1"]);
    const { port } = await startProxy(t, "!*.secret.test\n127.0.0.0/8", {
      dnsServers: [dns.server],
    });
    const r = await rawExchange(port, req("db.secret.test", 80));
    assert.equal(statusOf(r.text), 403);
    assert.deepEqual(dns.queries, []);
  });
});

describe("audit mode", () => {
  it("allows what would be denied, and says so in the decision event", async (t) => {
    const origin = await startOrigin(t);
    const { port, proxy } = await startProxy(t, "!127.0.0.1\n127.0.0.0/8", { audit: true });
    const decisions = captureEvents(t, "decision");
    const r = await rawExchange(port, req("127.0.0.1", origin.port));
    assert.equal(statusOf(r.text), 200);
    assert.equal(origin.seen.length, 1);
    assert.equal(decisions[0]?.["action"], "allow");
    assert.equal(decisions[0]?.["audit"], true);
    assert.equal(decisions[0]?.["reason"], "address-matched");
    assert.equal(decisions[0]?.["ruleLine"], 1);
    assert.equal(proxy.stats().audited, 1);
  });

  it("does not mark allowed requests", async (t) => {
    const origin = await startOrigin(t);
    const { port } = await startProxy(t, "127.0.0.0/8", { audit: true });
    const decisions = captureEvents(t, "decision");
    await rawExchange(port, req("127.0.0.1", origin.port));
    assert.equal(decisions[0]?.["audit"], false);
  });
});

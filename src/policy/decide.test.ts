// The rule semantics of spec/openshift-compat.md §2 and the safety additions, as a table:
// each case names the rules, the target (and what it resolves to) and the exact decision.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseHttpRules } from "../config/http-rules.ts";
import { canonicalHost } from "./canonical-host.ts";
import { decide, decideName } from "./decide.ts";
import { describeDecision, type DecisionReason } from "./decision.ts";
import { compileHttpPolicy, type HttpPolicy, type PortRange } from "./http-policy.ts";

function policy(text: string, connectPorts?: PortRange[]): HttpPolicy {
  const parsed = parseHttpRules(text);
  assert.deepEqual(parsed.problems, []);
  return compileHttpPolicy(parsed.rules, { connectPorts });
}

function target(host: string, port = 80, connect = false) {
  const h = canonicalHost(host);
  assert.ok(typeof h !== "string", `bad test host ${host}`);
  return { host: h, port, connect };
}

interface Case {
  readonly name: string;
  readonly rules: string;
  readonly host: string;
  readonly resolves?: string[];
  readonly want: "allow" | "deny";
  readonly reason: DecisionReason;
  readonly line?: number;
}

const cases: Case[] = [
  // exact names
  {
    name: "exact name allowed",
    rules: "www.example.com",
    host: "www.example.com",
    resolves: ["203.0.113.5"],
    want: "allow",
    reason: "host-matched",
    line: 1,
  },
  {
    name: "exact name is case-insensitive",
    rules: "www.example.com",
    host: "WWW.EXAMPLE.COM",
    resolves: ["203.0.113.5"],
    want: "allow",
    reason: "host-matched",
    line: 1,
  },
  {
    name: "trailing dot is the same name",
    rules: "www.example.com",
    host: "www.example.com.",
    resolves: ["203.0.113.5"],
    want: "allow",
    reason: "host-matched",
    line: 1,
  },
  {
    name: "exact name does not cover sub-domains",
    rules: "example.com",
    host: "www.example.com",
    resolves: ["203.0.113.5"],
    want: "deny",
    reason: "no-rule-matched",
  },
  {
    name: "exact name is not a suffix match",
    rules: "example.com",
    host: "badexample.com",
    resolves: ["203.0.113.5"],
    want: "deny",
    reason: "no-rule-matched",
  },
  {
    name: "IDN rule and request in Unicode",
    rules: "bücher.example",
    host: "BÜCHER.example",
    resolves: ["203.0.113.5"],
    want: "allow",
    reason: "host-matched",
    line: 1,
  },
  // *.domain
  {
    name: "*.domain covers the domain itself",
    rules: "*.example.com",
    host: "example.com",
    resolves: ["203.0.113.5"],
    want: "allow",
    reason: "domain-matched",
    line: 1,
  },
  {
    name: "*.domain covers a sub-domain",
    rules: "*.example.com",
    host: "api.example.com",
    resolves: ["203.0.113.5"],
    want: "allow",
    reason: "domain-matched",
    line: 1,
  },
  {
    name: "*.domain covers deep sub-domains",
    rules: "*.example.com",
    host: "a.b.c.example.com",
    resolves: ["203.0.113.5"],
    want: "allow",
    reason: "domain-matched",
    line: 1,
  },
  {
    name: "*.domain is label-aligned",
    rules: "*.example.com",
    host: "notexample.com",
    resolves: ["203.0.113.5"],
    want: "deny",
    reason: "no-rule-matched",
  },
  {
    name: "*.domain does not cover a parent",
    rules: "*.api.example.com",
    host: "example.com",
    resolves: ["203.0.113.5"],
    want: "deny",
    reason: "no-rule-matched",
  },
  // first match wins
  {
    name: "deny before allow: deny wins",
    rules: "!*.internal.example.com\n*.example.com",
    host: "db.internal.example.com",
    resolves: ["203.0.113.5"],
    want: "deny",
    reason: "domain-matched",
    line: 1,
  },
  {
    name: "allow before deny: allow wins",
    rules: "*.example.com\n!*.internal.example.com",
    host: "db.internal.example.com",
    resolves: ["203.0.113.5"],
    want: "allow",
    reason: "domain-matched",
    line: 1,
  },
  {
    name: "exact name after a broader deny: the deny wins",
    rules: "!*.example.com\nwww.example.com",
    host: "www.example.com",
    want: "deny",
    reason: "domain-matched",
    line: 1,
  },
  {
    name: "exact allow before a broader deny",
    rules: "www.example.com\n!*.example.com\n*",
    host: "www.example.com",
    resolves: ["203.0.113.5"],
    want: "allow",
    reason: "host-matched",
    line: 1,
  },
  {
    name: "later lines of the same kind do not matter",
    rules: "*.example.com\n!*.example.com",
    host: "x.example.com",
    resolves: ["203.0.113.5"],
    want: "allow",
    reason: "domain-matched",
    line: 1,
  },
  // default
  {
    name: "default deny without a final *",
    rules: "www.example.com",
    host: "other.example.org",
    want: "deny",
    reason: "no-rule-matched",
  },
  {
    name: "final * allows the rest",
    rules: "!*.example.com\n*",
    host: "other.example.org",
    resolves: ["203.0.113.5"],
    want: "allow",
    reason: "wildcard-matched",
    line: 2,
  },
  {
    name: "repeated * lines: the first decides",
    rules: "www.example.com\n*\n*",
    host: "x.example.org",
    resolves: ["203.0.113.5"],
    want: "allow",
    reason: "wildcard-matched",
    line: 2,
  },
  // address rules on literals
  {
    name: "address rule on a literal",
    rules: "203.0.113.7",
    host: "203.0.113.7",
    want: "allow",
    reason: "address-matched",
    line: 1,
  },
  {
    name: "address rule on a hex literal",
    rules: "203.0.113.7",
    host: "0xcb.0x0.0x71.0x7",
    want: "allow",
    reason: "address-matched",
    line: 1,
  },
  {
    name: "range rule on a literal",
    rules: "203.0.113.0/24",
    host: "203.0.113.200",
    want: "allow",
    reason: "range-matched",
    line: 1,
  },
  {
    name: "denied range on a decimal literal",
    rules: "!10.0.0.0/8\n*",
    host: "167772161",
    want: "deny",
    reason: "range-matched",
    line: 1,
  },
  {
    name: "denied range on an octal literal",
    rules: "!10.0.0.0/8\n*",
    host: "012.0.0.1",
    want: "deny",
    reason: "range-matched",
    line: 1,
  },
  {
    name: "denied range on an IPv4-mapped IPv6 literal",
    rules: "!10.0.0.0/8\n*",
    host: "[::ffff:10.0.0.1]",
    want: "deny",
    reason: "range-matched",
    line: 1,
  },
  {
    name: "IPv4-mapped rule on an IPv4 literal",
    rules: "!::ffff:10.0.0.0/104\n*",
    host: "10.9.9.9",
    want: "deny",
    reason: "range-matched",
    line: 1,
  },
  {
    name: "IPv6 range",
    rules: "!2001:db8::/32\n*",
    host: "[2001:DB8:0::5]",
    want: "deny",
    reason: "range-matched",
    line: 1,
  },
  {
    name: "IPv6 address rule",
    rules: "2001:db8::7",
    host: "[2001:db8:0:0:0:0:0:7]",
    want: "allow",
    reason: "address-matched",
    line: 1,
  },
  {
    name: "NAT64 address judged by the IPv4 it embeds",
    rules: "!10.0.0.0/8\n*",
    host: "[64:ff9b::10.0.0.1]",
    want: "deny",
    reason: "range-matched",
    line: 1,
  },
  {
    name: "NAT64 address outside denied ranges",
    rules: "!10.0.0.0/8\n*",
    host: "[64:ff9b::203.0.113.1]",
    want: "allow",
    reason: "wildcard-matched",
    line: 2,
  },
  {
    name: "a name rule never matches a literal",
    rules: "www.example.com",
    host: "203.0.113.7",
    want: "deny",
    reason: "no-rule-matched",
  },
  // address rules on resolved names (Squid dst)
  {
    name: "denied range blocks a name resolving into it",
    rules: "!10.0.0.0/8\n*",
    host: "internal.example.com",
    resolves: ["10.1.2.3"],
    want: "deny",
    reason: "resolved-range-matched",
    line: 1,
  },
  {
    name: "allowed range allows a name resolving into it",
    rules: "203.0.113.0/24",
    host: "api.example.com",
    resolves: ["203.0.113.9"],
    want: "allow",
    reason: "resolved-range-matched",
    line: 1,
  },
  {
    name: "allowed address allows a name resolving to it",
    rules: "203.0.113.9",
    host: "api.example.com",
    resolves: ["203.0.113.9"],
    want: "allow",
    reason: "resolved-address-matched",
    line: 1,
  },
  {
    name: "every resolved address must be allowed",
    rules: "203.0.113.0/24",
    host: "api.example.com",
    resolves: ["203.0.113.9", "198.51.100.1"],
    want: "deny",
    reason: "no-rule-matched",
  },
  {
    name: "one denied address denies the name",
    rules: "!10.0.0.0/8\n*",
    host: "mixed.example.com",
    resolves: ["203.0.113.9", "10.0.0.5"],
    want: "deny",
    reason: "resolved-range-matched",
    line: 1,
  },
  {
    name: "a name rule before the range wins (first match)",
    rules: "*.example.com\n!10.0.0.0/8",
    host: "internal.example.com",
    resolves: ["10.1.2.3"],
    want: "allow",
    reason: "domain-matched",
    line: 1,
  },
  {
    name: "a range before the name rule wins (first match)",
    rules: "!10.0.0.0/8\n*.example.com",
    host: "internal.example.com",
    resolves: ["10.1.2.3"],
    want: "deny",
    reason: "resolved-range-matched",
    line: 1,
  },
  {
    name: "IPv6 answers are judged too",
    rules: "!2001:db8:dead::/48\n*",
    host: "dual.example.com",
    resolves: ["203.0.113.9", "2001:db8:dead::1"],
    want: "deny",
    reason: "resolved-range-matched",
    line: 1,
  },
  {
    name: "a mapped answer is judged as IPv4",
    rules: "!10.0.0.0/8\n*",
    host: "m.example.com",
    resolves: ["::ffff:10.0.0.1"],
    want: "deny",
    reason: "resolved-range-matched",
    line: 1,
  },
  // local addresses
  {
    name: "* does not open loopback literals",
    rules: "*",
    host: "127.0.0.1",
    want: "deny",
    reason: "local-address",
  },
  { name: "* does not open 0.0.0.0", rules: "*", host: "0", want: "deny", reason: "local-address" },
  {
    name: "* does not open IPv6 loopback",
    rules: "*",
    host: "[::1]",
    want: "deny",
    reason: "local-address",
  },
  {
    name: "* does not open link-local (metadata)",
    rules: "*",
    host: "169.254.169.254",
    want: "deny",
    reason: "local-address",
  },
  {
    name: "* does not open a name resolving to loopback",
    rules: "*",
    host: "localhost.example.com",
    resolves: ["127.0.0.1"],
    want: "deny",
    reason: "local-address",
  },
  {
    name: "a domain rule does not open a name resolving to loopback",
    rules: "*.example.com",
    host: "evil.example.com",
    resolves: ["127.0.0.1"],
    want: "deny",
    reason: "local-address",
  },
  {
    name: "an explicit address rule opens loopback",
    rules: "127.0.0.1",
    host: "127.0.0.1",
    want: "allow",
    reason: "address-matched",
    line: 1,
  },
  {
    name: "an explicit range opens a name resolving to loopback",
    rules: "127.0.0.0/8\n*.example.com",
    host: "lo.example.com",
    resolves: ["127.0.0.2"],
    want: "allow",
    reason: "resolved-range-matched",
    line: 1,
  },
];

describe("decide: rule semantics", () => {
  for (const c of cases) {
    it(c.name, () => {
      const d = decide(policy(c.rules), target(c.host), c.resolves ?? []);
      assert.equal(d.action, c.want, describeDecision(d));
      assert.equal(d.reason, c.reason, describeDecision(d));
      assert.equal(d.rule?.line, c.line);
    });
  }
});

describe("decideName: what is known before resolving", () => {
  it("a name denied by a name rule before any address rule is never resolved", () => {
    const d = decideName(
      policy("!*.internal.example.com\n10.0.0.0/8"),
      target("x.internal.example.com"),
    );
    assert.equal(d?.reason, "domain-matched");
    assert.equal(d?.rule?.line, 1);
  });
  it("a name matching nothing, with no address rule and no *, is denied unresolved", () => {
    const d = decideName(policy("www.example.com"), target("other.example.org"));
    assert.equal(d?.reason, "no-rule-matched");
  });
  it("an address rule before the name rule needs the addresses", () => {
    assert.equal(
      decideName(policy("!10.0.0.0/8\n!*.example.com\n*"), target("a.example.com")),
      undefined,
    );
  });
  it("an allowed name still needs its addresses (local-address check)", () => {
    assert.equal(decideName(policy("*.example.com"), target("a.example.com")), undefined);
  });
  it("with a final * and no address rule, the addresses are still needed", () => {
    assert.equal(decideName(policy("*"), target("a.example.com")), undefined);
  });
});

describe("CONNECT port list", () => {
  const ports = [
    { from: 443, to: 443 },
    { from: 8443, to: 8443 },
  ];
  it("a port outside the list is denied before any rule", () => {
    const p = policy("*", ports);
    const d = decide(p, target("203.0.113.7", 22, true));
    assert.deepEqual([d.action, d.reason], ["deny", "port-not-allowed"]);
    assert.equal(decideName(p, target("ssh.example.com", 22, true))?.reason, "port-not-allowed");
  });
  it("a port in the list goes on to the rules", () => {
    const d = decide(policy("*", ports), target("203.0.113.7", 8443, true));
    assert.deepEqual([d.action, d.reason], ["allow", "wildcard-matched"]);
  });
  it("the list does not apply to forwarded (absolute-form) requests", () => {
    const d = decide(policy("*", ports), target("203.0.113.7", 8080, false));
    assert.equal(d.action, "allow");
  });
  it("without a list every port is allowed (as upstream)", () => {
    assert.equal(decide(policy("*"), target("203.0.113.7", 22, true)).action, "allow");
  });
});

describe("describeDecision", () => {
  it("names the reason first, then the rule line and its text", () => {
    const d = decide(policy("!10.0.0.0/8\n*"), target("db.example.com"), ["10.0.0.9"]);
    assert.equal(
      describeDecision(d),
      'resolved-range-matched: resolves to 10.0.0.9, rule line 1 "!10.0.0.0/8"',
    );
  });
  it("says why there is no rule", () => {
    const d = decide(policy("www.example.com"), target("x.example.org"), ["203.0.113.1"]);
    assert.equal(
      describeDecision(d),
      'no-rule-matched: no rule allows 203.0.113.1 and there is no final "*"',
    );
  });
});

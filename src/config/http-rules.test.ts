import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatHttpRule, parseHttpRules } from "./http-rules.ts";
import type { HostMatch } from "./types.ts";

describe("parseHttpRules: accepted forms", () => {
  const cases: [name: string, line: string, action: "allow" | "deny", match: HostMatch][] = [
    ["host name", "www.example.com", "allow", { kind: "host", host: "www.example.com" }],
    ["case-insensitive", "WWW.Example.COM", "allow", { kind: "host", host: "www.example.com" }],
    [
      "trailing dot is the same name",
      "www.example.com.",
      "allow",
      { kind: "host", host: "www.example.com" },
    ],
    [
      "single label (do not copy: `www` skipped upstream)",
      "www",
      "allow",
      { kind: "host", host: "www" },
    ],
    ["the letter w alone", "w", "allow", { kind: "host", host: "w" }],
    [
      "hex-only name is a name (do not copy)",
      "bad.cafe",
      "allow",
      { kind: "host", host: "bad.cafe" },
    ],
    ["IDN to punycode", "bücher.example", "allow", { kind: "host", host: "xn--bcher-kva.example" }],
    ["domain wildcard", "*.example.com", "allow", { kind: "domain", domain: "example.com" }],
    ["deny domain", "!*.Example.com", "deny", { kind: "domain", domain: "example.com" }],
    [
      "IPv4 address",
      "203.0.113.7",
      "allow",
      { kind: "address", address: "203.0.113.7", family: 4 },
    ],
    [
      "IPv6 address",
      "2001:DB8::7",
      "allow",
      { kind: "address", address: "2001:db8::7", family: 6 },
    ],
    [
      "bracketed IPv6",
      "[2001:db8::7]",
      "allow",
      { kind: "address", address: "2001:db8::7", family: 6 },
    ],
    [
      "IPv4 range",
      "198.51.100.0/24",
      "allow",
      { kind: "cidr", network: "198.51.100.0", prefixLength: 24, family: 4 },
    ],
    [
      "range with host bits is normalized",
      "!198.51.100.77/24",
      "deny",
      { kind: "cidr", network: "198.51.100.0", prefixLength: 24, family: 4 },
    ],
    [
      "IPv6 range",
      "fe80::/10",
      "allow",
      { kind: "cidr", network: "fe80::", prefixLength: 10, family: 6 },
    ],
    [
      "IPv6 range host bits",
      "2001:db8:1:2::5/48",
      "allow",
      { kind: "cidr", network: "2001:db8:1::", prefixLength: 48, family: 6 },
    ],
    [
      "deny address",
      "!203.0.113.7",
      "deny",
      { kind: "address", address: "203.0.113.7", family: 4 },
    ],
    ["/0", "0.0.0.0/0", "allow", { kind: "cidr", network: "0.0.0.0", prefixLength: 0, family: 4 }],
    [
      "/32",
      "203.0.113.7/32",
      "allow",
      { kind: "cidr", network: "203.0.113.7", prefixLength: 32, family: 4 },
    ],
  ];
  for (const [name, line, action, match] of cases) {
    it(name, () => {
      const { rules, problems } = parseHttpRules(line);
      assert.deepEqual(problems, []);
      assert.equal(rules.length, 1);
      assert.equal(rules[0]?.action, action);
      assert.deepEqual(rules[0]?.match, match);
      assert.equal(rules[0]?.line, 1);
    });
  }

  it("keeps order, lines and the wildcard; repeats of * allowed at the end", () => {
    const { rules, problems } = parseHttpRules(
      "# allow list\n*.example.com\n\n!203.0.113.0/24\n*\n*\n# done",
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(
      rules.map((r) => [r.line, formatHttpRule(r)]),
      [
        [2, "*.example.com"],
        [4, "!203.0.113.0/24"],
        [5, "*"],
        [6, "*"],
      ],
    );
  });
});

describe("parseHttpRules: rejected input, exact OpenShift text and ours", () => {
  const cases: [name: string, input: string, openshift: string, ours: RegExp][] = [
    ["unset", "", "No EGRESS_HTTP_PROXY_DESTINATION specified", /no rules are set/],
    ["two words", "foo bar", "Bad destination 'foo bar'", /one destination per line/],
    [
      "host with port",
      "example.com:443",
      "Bad destination 'example.com:443'",
      /ports are not part of a rule/,
    ],
    [
      "URL",
      "http://example.com",
      "Bad destination 'http://example.com'",
      /not a URL; write the host name only, e.g. "example.com"/,
    ],
    ["star glued", "*example.com", "Bad destination '*example.com'", /a wildcard is only/],
    ["double star", "*.*.example.com", "Bad destination '*.*.example.com'", /not a valid domain/],
    [
      "leading dot (Squid syntax)",
      ".example.com",
      "Bad destination '.example.com'",
      /write "\*\.example\.com"/,
    ],
    ["leading hyphen", "-example.com", "Bad destination '-example.com'", /not a valid host name/],
    ["underscore", "foo_bar.com", "Bad destination 'foo_bar.com'", /no "_"/],
    ["deny everything", "!*", "Bad destination '*'", /would deny everything/],
    ["lone !", "!", "Bad destination ''", /needs a destination/],
    ["double !", "!!example.com", "Bad destination '!example.com'", /only one "!"/],
    [
      "/33 (do not copy)",
      "203.0.113.0/33",
      "Bad destination '203.0.113.0/33'",
      /prefix length must be 0-32/,
    ],
    ["/129", "2001:db8::/129", "Bad destination '2001:db8::/129'", /0-128/],
    [
      "impossible address (do not copy)",
      "999.1.1.1",
      "Bad destination '999.1.1.1'",
      /not a valid IPv4 address/,
    ],
    ["numeric last label", "1.2.3", "Bad destination '1.2.3'", /not a valid IPv4 address/],
    [
      "range without bits",
      "203.0.113.0/",
      "Bad destination '203.0.113.0/'",
      /not a valid address range/,
    ],
    [
      "trailing comment",
      "example.com # ok",
      "Bad destination 'example.com # ok'",
      /comments must be on a line of their own/,
    ],
    [
      "tab inside",
      "example.com\t!x",
      "Bad destination 'example.com\t!x'",
      /a tab separates the fields/,
    ],
    ["CRLF", "example.com\r\n*", "Bad destination 'example.com\r'", /Windows line endings/],
    [
      "wildcard not last",
      "*\nexample.com",
      "Wildcard must be last rule, if present",
      /line 2: .*follows the wildcard "\*" on line 1/,
    ],
    ["deny after wildcard", "*\n!example.com", "Wildcard must be last rule, if present", /line 2/],
    [
      "over-long label",
      `${"a".repeat(64)}.com`,
      `Bad destination '${"a".repeat(64)}.com'`,
      /not a valid host name/,
    ],
  ];
  for (const [name, input, openshift, ours] of cases) {
    it(name, () => {
      const { problems } = parseHttpRules(input);
      assert.ok(problems.length >= 1, "a problem is reported");
      assert.equal(problems[0]?.openshift, openshift);
      assert.match(problems[0]?.message ?? "", ours);
    });
  }

  it("reports every problem with its line", () => {
    const { problems } = parseHttpRules("ok.example\nfoo_bar.com\n\n!\n*\nlate.example");
    assert.deepEqual(
      problems.map((p) => [p.line, p.code]),
      [
        [2, "destination-bad"],
        [4, "destination-bad"],
        [6, "wildcard-not-last"],
      ],
    );
  });
});

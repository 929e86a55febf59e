import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatDnsProxyRule, parseDnsProxyRules } from "./dns-proxy-rules.ts";

describe("parseDnsProxyRules: accepted forms", () => {
  const cases: [name: string, input: string, normalized: string[]][] = [
    ["address, same port", "80 203.0.113.25", ["80 203.0.113.25"]],
    ["address, remote port", "8443 203.0.113.25 443", ["8443 203.0.113.25 443"]],
    ["name", "5432 db.example.com", ["5432 db.example.com"]],
    [
      "name, remote port, case and trailing dot",
      "8080 API.Example.com. 80",
      ["8080 api.example.com 80"],
    ],
    ["IPv6 target (ours), bracketless", "22 2001:DB8::7", ["22 2001:db8::7"]],
    ["remote port equal to local is folded", "80 203.0.113.25 80", ["80 203.0.113.25"]],
    ["comments and blanks", "# db\n\n5432 db.example.com\n  # end", ["5432 db.example.com"]],
  ];
  for (const [name, input, normalized] of cases) {
    it(name, () => {
      const { rules, problems } = parseDnsProxyRules(input);
      assert.deepEqual(problems, []);
      assert.deepEqual(rules.map(formatDnsProxyRule), normalized);
    });
  }
  it("typed targets", () => {
    const { rules } = parseDnsProxyRules("80 203.0.113.25\n81 web.example.com 8080");
    assert.deepEqual(rules[0]?.target, { kind: "address", address: "203.0.113.25", family: 4 });
    assert.deepEqual(rules[1]?.target, { kind: "name", name: "web.example.com" });
    assert.equal(rules[1]?.remotePort, 8080);
    assert.equal(rules[1]?.line, 2);
  });
});

describe("parseDnsProxyRules: rejected input, exact OpenShift text and ours", () => {
  const cases: [name: string, input: string, openshift: string, ours: RegExp][] = [
    ["unset", "", "Must specify EGRESS_DNS_PROXY_DESTINATION", /no rules are set/],
    ["port only", "80", "Bad destination '80'", /expected/],
    [
      "tcp keyword",
      "80 tcp 203.0.113.25",
      "Bad destination '80 tcp 203.0.113.25'",
      /forwards TCP only/,
    ],
    ["tab", "80\t203.0.113.25", "Bad destination '80\t203.0.113.25'", /a tab separates the fields/],
    ["CRLF", "80 203.0.113.25\r\n", "Bad destination '80 203.0.113.25\r'", /Windows line endings/],
    [
      "trailing comment",
      "80 203.0.113.25 # web",
      "Bad destination '80 203.0.113.25 # web'",
      /comments must be on a line of their own/,
    ],
    ["extra field", "80 203.0.113.25 80 90", "Bad destination '80 203.0.113.25 80 90'", /expected/],
    ["name without a dot", "80 localhost", "Bad destination '80 localhost'", /has no dot/],
    [
      "bracketed IPv6",
      "80 [2001:db8::1]",
      "Bad destination '80 [2001:db8::1]'",
      /without brackets/,
    ],
    [
      "bad name",
      "80 foo_bar.example.com",
      "Bad destination '80 foo_bar.example.com'",
      /not a valid host name/,
    ],
    [
      "impossible address",
      "80 999.1.1.1",
      "Bad destination '80 999.1.1.1'",
      /not a valid IPv4 address/,
    ],
    [
      "non-numeric port",
      "http 203.0.113.25",
      "Bad destination 'http 203.0.113.25'",
      /local port "http" is not a number/,
    ],
    [
      "port 0",
      "0 203.0.113.25",
      "Invalid port: 0, must be in the range 1 to 65535",
      /proxy port 0/,
    ],
    [
      "remote port too big",
      "80 203.0.113.25 65536",
      "Invalid port: 65536, must be in the range 1 to 65535",
      /remote port 65536/,
    ],
    [
      "duplicate port",
      "80 203.0.113.25\n80 web.example.com",
      "Proxy port 80 already used, must be unique for each destination",
      /line 2: .*line 1 already uses it/,
    ],
  ];
  for (const [name, input, openshift, ours] of cases) {
    it(name, () => {
      const { problems } = parseDnsProxyRules(input);
      assert.ok(problems.length >= 1, "a problem is reported");
      assert.equal(problems[0]?.openshift, openshift);
      assert.match(problems[0]?.message ?? "", ours);
    });
  }
});

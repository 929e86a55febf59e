import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatRedirectRule, parseRedirectRules } from "./redirect-rules.ts";

describe("parseRedirectRules: accepted forms", () => {
  const cases: [name: string, input: string, normalized: string[]][] = [
    ["port rule", "80 tcp 203.0.113.25", ["80 tcp 203.0.113.25"]],
    ["remote port", "8080 tcp 203.0.113.26 80", ["8080 tcp 203.0.113.26 80"]],
    ["udp", "53 udp 203.0.113.5", ["53 udp 203.0.113.5"]],
    ["sctp (ours)", "3868 sctp 203.0.113.5", ["3868 sctp 203.0.113.5"]],
    ["fallback alone", "203.0.113.27", ["203.0.113.27"]],
    ["IPv6 destination, canonical form", "443 tcp 2001:DB8:0::7", ["443 tcp 2001:db8::7"]],
    ["IPv6 fallback", "2001:db8::9", ["2001:db8::9"]],
    [
      "several spaces between fields",
      "80   tcp    203.0.113.25   8080",
      ["80 tcp 203.0.113.25 8080"],
    ],
    [
      "leading/trailing spaces and tabs trimmed",
      " \t80 tcp 203.0.113.25\t ",
      ["80 tcp 203.0.113.25"],
    ],
    [
      "comments and blanks skipped",
      "# web\n\n   \n80 tcp 203.0.113.25\n  # indented comment",
      ["80 tcp 203.0.113.25"],
    ],
    [
      "comments and blanks after the fallback",
      "80 tcp 203.0.113.25\n203.0.113.27\n# end\n\n",
      ["80 tcp 203.0.113.25", "203.0.113.27"],
    ],
    ["leading zero is decimal, not octal", "080 tcp 203.0.113.25 010", ["80 tcp 203.0.113.25 10"]],
    [
      "port bounds",
      "1 tcp 203.0.113.1\n65535 udp 203.0.113.2 65535",
      ["1 tcp 203.0.113.1", "65535 udp 203.0.113.2 65535"],
    ],
    ["only comments: no rules, no error", "# nothing yet", []],
    [
      "whitespace-only CR line counts as blank",
      "80 tcp 203.0.113.25\n\r\n",
      ["80 tcp 203.0.113.25"],
    ],
  ];
  for (const [name, input, normalized] of cases) {
    it(name, () => {
      const { rules, problems } = parseRedirectRules(input);
      assert.deepEqual(problems, []);
      assert.deepEqual(rules.map(formatRedirectRule), normalized);
    });
  }

  it("records line numbers and fields", () => {
    const { rules } = parseRedirectRules(
      "# c\n80 tcp 203.0.113.25\n\n8080 udp 203.0.113.26 53\n203.0.113.27",
    );
    assert.deepEqual(rules, [
      {
        kind: "port",
        line: 2,
        localPort: 80,
        protocol: "tcp",
        destination: "203.0.113.25",
        family: 4,
        remotePort: undefined,
      },
      {
        kind: "port",
        line: 4,
        localPort: 8080,
        protocol: "udp",
        destination: "203.0.113.26",
        family: 4,
        remotePort: 53,
      },
      { kind: "fallback", line: 5, destination: "203.0.113.27", family: 4 },
    ]);
  });
});

describe("parseRedirectRules: rejected input, exact OpenShift text and ours", () => {
  const cases: [name: string, input: string, openshift: string, ours: RegExp][] = [
    ["unset", "", "EGRESS_DESTINATION unspecified", /no rules are set/],
    ["spaces only", "  \n ", "EGRESS_DESTINATION unspecified", /no rules are set/],
    [
      "bad protocol",
      "80 icmp 203.0.113.25",
      "EGRESS_DESTINATION value '80 icmp 203.0.113.25' is invalid",
      /unknown protocol "icmp"; use tcp, udp or sctp/,
    ],
    [
      "upper-case protocol",
      "80 TCP 203.0.113.25",
      "EGRESS_DESTINATION value '80 TCP 203.0.113.25' is invalid",
      /protocols are lower case; write "tcp"/,
    ],
    [
      "host name",
      "80 tcp example.com",
      "EGRESS_DESTINATION value '80 tcp example.com' is invalid",
      /not an IP address/,
    ],
    [
      "host name fallback",
      "example.com",
      "EGRESS_DESTINATION value 'example.com' is invalid",
      /not an IP address/,
    ],
    [
      "extra field",
      "80 tcp 203.0.113.25 80 x",
      "EGRESS_DESTINATION value '80 tcp 203.0.113.25 80 x' is invalid",
      /expected/,
    ],
    ["two fields", "80 tcp", "EGRESS_DESTINATION value '80 tcp' is invalid", /expected/],
    ["port alone", "80", "EGRESS_DESTINATION value '80' is invalid", /a port needs a protocol/],
    [
      "trailing comment",
      "80 tcp 203.0.113.25 # web",
      "EGRESS_DESTINATION value '80 tcp 203.0.113.25 # web' is invalid",
      /comments must be on a line of their own/,
    ],
    [
      "tab between fields",
      "80\ttcp 203.0.113.25",
      "EGRESS_DESTINATION value '80\ttcp 203.0.113.25' is invalid",
      /line 1: .*a tab separates the fields; separate fields with spaces only/,
    ],
    [
      "CRLF line",
      "80 tcp 203.0.113.25\r\n",
      "EGRESS_DESTINATION value '80 tcp 203.0.113.25\r' is invalid",
      /Windows line endings/,
    ],
    [
      "octet out of range (do not copy)",
      "80 tcp 999.1.1.1",
      "EGRESS_DESTINATION value '80 tcp 999.1.1.1' is invalid",
      /not an IP address/,
    ],
    [
      "fallback out of range (do not copy)",
      "256.0.0.1",
      "EGRESS_DESTINATION value '256.0.0.1' is invalid",
      /not an IP address/,
    ],
    [
      "IPv6 zone id",
      "80 tcp fe80::1%eth0",
      "EGRESS_DESTINATION value '80 tcp fe80::1%eth0' is invalid",
      /not an IP address/,
    ],
    [
      "non-numeric remote port",
      "80 tcp 203.0.113.25 http",
      "EGRESS_DESTINATION value '80 tcp 203.0.113.25 http' is invalid",
      /remote port "http" is not a number/,
    ],
    [
      "backslash continuation is not a thing (do not copy)",
      "80 tcp \\\n203.0.113.25",
      "EGRESS_DESTINATION value '80 tcp \\' is invalid",
      /line 1/,
    ],
    [
      "fallback not last",
      "203.0.113.27\n80 tcp 203.0.113.25",
      "EGRESS_DESTINATION fallback IP must be the last line",
      /line 2: .*follows the fallback on line 1/,
    ],
    [
      "two fallbacks",
      "203.0.113.27\n203.0.113.28",
      "EGRESS_DESTINATION fallback IP must be the last line",
      /line 2/,
    ],
    [
      "local port 0",
      "0 tcp 203.0.113.25",
      "Invalid port: 0, must be in the range 1 to 65535",
      /local port 0: ports are 1 to 65535/,
    ],
    [
      "local port too big",
      "65536 tcp 203.0.113.25",
      "Invalid port: 65536, must be in the range 1 to 65535",
      /local port 65536/,
    ],
    [
      "remote port too big",
      "80 tcp 203.0.113.25 70000",
      "Invalid port: 70000, must be in the range 1 to 65535",
      /remote port 70000/,
    ],
    [
      "huge port number",
      "99999999999999999999999 tcp 203.0.113.25",
      "Invalid port: 99999999999999999999999, must be in the range 1 to 65535",
      /ports are 1 to 65535/,
    ],
    [
      "duplicate local port",
      "80 tcp 203.0.113.25\n80 tcp 203.0.113.26",
      "EGRESS_DESTINATION localport 80 is already used, must be unique for each destination",
      /line 2: .*line 1 already uses it/,
    ],
    [
      "duplicate across protocols",
      "80 tcp 203.0.113.25\n80 udp 203.0.113.26",
      "EGRESS_DESTINATION localport 80 is already used, must be unique for each destination",
      /whatever the protocol/,
    ],
  ];
  for (const [name, input, openshift, ours] of cases) {
    it(name, () => {
      const { problems } = parseRedirectRules(input);
      assert.ok(problems.length >= 1, "a problem is reported");
      assert.equal(problems[0]?.openshift, openshift);
      assert.match(problems[0]?.message ?? "", ours);
      assert.match(problems[0]?.message ?? "", /^EGRESS_DESTINATION/);
    });
  }

  it("reports every problem at once, in line order", () => {
    const { problems, rules } = parseRedirectRules(
      "80 tcp 203.0.113.25\n90 TCP 203.0.113.1\n0 tcp 203.0.113.2\n80 udp 203.0.113.3\n203.0.113.4\n81 tcp 203.0.113.5",
    );
    assert.deepEqual(
      problems.map((p) => [p.line, p.code]),
      [
        [2, "line-invalid"],
        [3, "port-out-of-range"],
        [4, "port-duplicate"],
        [6, "fallback-not-last"],
      ],
    );
    assert.equal(rules.length, 2);
  });

  it("uses the setting name it is given", () => {
    const { problems } = parseRedirectRules("80 tcp x", "EGRESS_DESTINATION_FILE");
    assert.equal(problems[0]?.openshift, "EGRESS_DESTINATION_FILE value '80 tcp x' is invalid");
  });
});

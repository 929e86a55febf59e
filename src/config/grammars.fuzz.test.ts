// Property tests for the three grammars: random and mutated input never makes a parser throw
// or hang; every problem names its setting and carries a known OpenShift message shape;
// whatever is accepted round-trips through its normalized form unchanged.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatDnsProxyRule, parseDnsProxyRules } from "./dns-proxy-rules.ts";
import { formatHttpRule, parseHttpRules } from "./http-rules.ts";
import { formatRedirectRule, parseRedirectRules } from "./redirect-rules.ts";

const seed = Number(process.env["FUZZ_SEED"] ?? Date.now() % 1_000_000);
function rng(s: number): () => number {
  let x = s || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}
const rand = rng(seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;

const atoms = [
  "80",
  "0",
  "65535",
  "65536",
  "080",
  "99999999999999999999",
  "-1",
  "tcp",
  "udp",
  "sctp",
  "TCP",
  "icmp",
  "203.0.113.7",
  "999.1.1.1",
  "1.2.3",
  "0x7f.0.0.1",
  "2001:db8::7",
  "[2001:db8::7]",
  "fe80::1%eth0",
  "203.0.113.0/24",
  "/33",
  "2001:db8::/129",
  "example.com",
  "*.example.com",
  "*",
  "!",
  "!!",
  "www",
  "bad.cafe",
  "bücher.example",
  "xn--",
  "ex_ample.com",
  "-x.com",
  "#",
  "# c",
  "\t",
  "\r",
  "\u00a0",
  "\u200b",
  "😀",
  "\\",
  "a".repeat(300),
  "1".repeat(5000),
  "http://example.com/",
  "example.com:443",
  "localhost",
  "..",
];
const separators = [" ", "  ", "\t", " \t ", "", "\r"];

function randomLine(): string {
  const n = 1 + Math.floor(rand() * 5);
  let line = rand() < 0.2 ? pick(separators) : "";
  for (let i = 0; i < n; i++)
    line += (i ? pick(separators) : "") + (rand() < 0.1 ? pick(["!", "*."]) : "") + pick(atoms);
  if (rand() < 0.3) {
    // mutate: flip, insert or delete one character
    const pos = Math.floor(rand() * (line.length + 1));
    const ch = String.fromCharCode(Math.floor(rand() * 0x3000));
    line =
      rand() < 0.5
        ? line.slice(0, pos) + ch + line.slice(pos)
        : line.slice(0, pos) + line.slice(pos + 1);
  }
  return line;
}

const grammars = [
  {
    name: "redirect",
    setting: "EGRESS_DESTINATION",
    parse: parseRedirectRules,
    format: formatRedirectRule as (r: never) => string,
  },
  {
    name: "http",
    setting: "EGRESS_HTTP_PROXY_DESTINATION",
    parse: parseHttpRules,
    format: formatHttpRule as (r: never) => string,
  },
  {
    name: "dns",
    setting: "EGRESS_DNS_PROXY_DESTINATION",
    parse: parseDnsProxyRules,
    format: formatDnsProxyRule as (r: never) => string,
  },
] as const;

const openshiftShapes = [
  /^EGRESS_DESTINATION (unspecified|value '.*' is invalid|fallback IP must be the last line|localport \d+ is already used, must be unique for each destination)$/s,
  /^Invalid port: \d+, must be in the range 1 to 65535$/,
  /^No EGRESS_HTTP_PROXY_DESTINATION specified$/,
  /^Bad destination '.*'$/s,
  /^Wildcard must be last rule, if present$/,
  /^Must specify EGRESS_DNS_PROXY_DESTINATION$/,
  /^Proxy port \d+ already used, must be unique for each destination$/,
];

describe(`grammar fuzz (FUZZ_SEED=${seed})`, () => {
  for (const g of grammars) {
    it(
      `${g.name}: 3000 random documents never throw; problems are well-formed; accepted rules round-trip`,
      { timeout: 60_000 },
      () => {
        for (let doc = 0; doc < 3000; doc++) {
          const lines = Array.from({ length: 1 + Math.floor(rand() * 6) }, randomLine);
          const text = lines.join(rand() < 0.1 ? "\r\n" : "\n");
          const { rules, problems } = g.parse(text);
          for (const p of problems) {
            assert.ok(p.message.startsWith(g.setting), `message names the setting: ${p.message}`);
            if (p.line !== undefined)
              assert.ok(p.message.startsWith(`${g.setting} line ${p.line}:`), p.message);
            if (p.openshift !== undefined) {
              assert.ok(
                openshiftShapes.some((re) => re.test(p.openshift ?? "")),
                `known OpenShift text: ${JSON.stringify(p.openshift)}`,
              );
            }
          }
          if (problems.length === 0 && rules.length > 0) {
            const again = g.parse((rules as readonly never[]).map(g.format).join("\n"));
            assert.deepEqual(
              again.problems,
              [],
              `normalized form re-parses: ${JSON.stringify(text)}`,
            );
            assert.deepEqual(
              (again.rules as readonly never[]).map(g.format),
              (rules as readonly never[]).map(g.format),
            );
          }
        }
      },
    );

    it(
      `${g.name}: 100 000 lines and a 1 MB line finish and report per line`,
      { timeout: 60_000 },
      () => {
        const many = Array.from({ length: 100_000 }, (_, i) =>
          i % 2 ? "# comment" : `bogus\tline ${i}`,
        ).join("\n");
        const { problems } = g.parse(many);
        assert.equal(problems.length, 50_000);
        assert.equal(problems[0]?.line, 1);
        assert.equal(problems[49_999]?.line, 99_999);
        const long = g.parse("9".repeat(1_000_000));
        assert.ok(long.problems.length === 1);
        assert.ok(long.problems[0]!.message.length < 400, "our message shortens what it quotes");
      },
    );
  }
});

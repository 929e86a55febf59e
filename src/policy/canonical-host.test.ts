// Every spelling of a host that a resolver or a URL parser would read as the same
// destination must come out of canonicalHost as one value, or be refused.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { canonicalHost, type CanonicalHost, type HostProblem } from "./canonical-host.ts";

const v4 = (address: string): CanonicalHost => ({ kind: "address", address, family: 4 });
const v6 = (address: string): CanonicalHost => ({ kind: "address", address, family: 6 });
const name = (n: string): CanonicalHost => ({ kind: "name", name: n });

const same: [string, string, CanonicalHost | HostProblem][] = [
  ["upper case", "WWW.Example.COM", name("www.example.com")],
  ["trailing dot", "www.example.com.", name("www.example.com")],
  ["IDN to punycode", "bücher.example", name("xn--bcher-kva.example")],
  ["IDN upper case", "BÜCHER.example", name("xn--bcher-kva.example")],
  ["punycode upper case", "XN--BCHER-KVA.EXAMPLE", name("xn--bcher-kva.example")],
  ["fullwidth letters (UTS 46 mapping)", "ｅｘａｍｐｌｅ.com", name("example.com")],
  ["ideographic full stop", "example\u3002com", name("example.com")],
  ["soft hyphen inside a label is dropped", "exam\u00adple.com", name("example.com")],
  ["zero-width space is dropped", "example.com\u200b", name("example.com")],
  ["underscore labels are names", "_srv.example.com", name("_srv.example.com")],
  ["IPv4 dotted", "127.0.0.1", v4("127.0.0.1")],
  ["IPv4 trailing dot", "127.0.0.1.", v4("127.0.0.1")],
  ["IPv4 one decimal number", "2130706433", v4("127.0.0.1")],
  ["IPv4 hex", "0x7f000001", v4("127.0.0.1")],
  ["IPv4 hex parts", "0x7f.0x0.0x0.0x1", v4("127.0.0.1")],
  ["IPv4 octal parts", "0177.0.0.01", v4("127.0.0.1")],
  ["IPv4 short form a.b", "127.1", v4("127.0.0.1")],
  ["IPv4 short form a.b.c", "10.1.258", v4("10.1.1.2")],
  ["IPv4 mixed hex, octal, short", "0xa.010.1", v4("10.8.0.1")],
  ["IPv4 zero is 0.0.0.0", "0", v4("0.0.0.0")],
  ["IPv4 fullwidth digits", "１２７.０.０.１", v4("127.0.0.1")],
  ["IPv6 bracketed", "[2001:DB8:0:0::1]", v6("2001:db8::1")],
  ["IPv6 loopback", "[::1]", v6("::1")],
  ["IPv6 long zero run compressed", "[2001:db8:0:0:0:0:0:7]", v6("2001:db8::7")],
  ["IPv4-mapped IPv6 dotted", "[::ffff:127.0.0.1]", v4("127.0.0.1")],
  ["IPv4-mapped IPv6 hex", "[::FFFF:7f00:1]", v4("127.0.0.1")],
  ["IPv4-mapped IPv6 long form", "[0:0:0:0:0:ffff:a00:1]", v4("10.0.0.1")],
  ["unbracketed IPv6 (explain)", "2001:db8::1", v6("2001:db8::1")],
];

const refused: [string, string, HostProblem][] = [
  ["empty", "", "empty"],
  ["percent-encoding", "a%2ecom", "bad-character"],
  ["fragment cut", "evil.com#.good.com", "bad-character"],
  ["userinfo", "good.com@evil.com", "bad-character"],
  ["backslash", "evil.com\\good.com", "bad-character"],
  ["space", "exa mple.com", "bad-character"],
  ["NUL", "example.com\u0000.evil", "bad-character"],
  ["slash", "example.com/x", "bad-character"],
  ["port left in", "example.com:80", "bad-character"],
  ["IPv4 with a fifth part", "1.2.3.4.5", "bad-name"],
  ["IPv4 number too large", "4294967296", "bad-name"],
  ["IPv4 octet too large", "256.1.1.1", "bad-name"],
  ["numeric last label", "foo.123", "bad-name"],
  ["hex last label", "www.0x7f", "bad-name"],
  ["empty label", "a..b", "bad-label"],
  ["two trailing dots", "example.com..", "bad-label"],
  ["label over 63", `${"a".repeat(64)}.com`, "bad-label"],
  ["name over 253", `${"a.".repeat(127)}com`, "too-long"],
  ["huge input", "a".repeat(5000), "too-long"],
  ["IPv6 zone id", "[fe80::1%25eth0]", "zone-id"],
  ["bracketed name", "[example.com]", "bad-ipv6"],
  ["unclosed bracket", "[::1", "bad-ipv6"],
  ["bad unbracketed IPv6", "1:2:3", "bad-character"],
];

describe("canonicalHost: one form for every spelling", () => {
  for (const [what, input, want] of same) {
    it(what, () => assert.deepEqual(canonicalHost(input), want));
  }
});

describe("canonicalHost: refuses what is not one host", () => {
  for (const [what, input, want] of refused) {
    it(what, () => assert.equal(canonicalHost(input), want));
  }
});

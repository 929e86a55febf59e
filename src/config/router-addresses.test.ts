import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseGateway, parseSource } from "./router-addresses.ts";

describe("parseSource", () => {
  const ok: [string, string, number, 4 | 6][] = [
    ["198.51.100.99", "198.51.100.99", 32, 4],
    ["198.51.100.99/24", "198.51.100.99", 24, 4],
    ["2001:db8::99", "2001:db8::99", 128, 6],
    ["2001:DB8::99/64", "2001:db8::99", 64, 6],
  ];
  for (const [input, address, prefixLength, family] of ok) {
    it(`accepts ${input}`, () => {
      assert.deepEqual(parseSource(input).value, { address, prefixLength, family });
    });
  }
  const bad: [string | undefined, RegExp][] = [
    [undefined, /it is not set/],
    ["", /it is not set/],
    ["198.51.100", /not an IPv4 or IPv6 address/],
    ["999.1.1.1", /not an IPv4 or IPv6 address/],
    ["198.51.100.99/99", /prefix in range/],
    ["198.51.100.99/", /not an IPv4/],
    ["2001:db8::1/129", /not an IPv4/],
    ["host.example.com", /not an IPv4/],
  ];
  for (const [input, ours] of bad) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      const { value, problems } = parseSource(input);
      assert.equal(value, undefined);
      assert.equal(problems[0]?.openshift, "EGRESS_SOURCE unspecified or invalid");
      assert.match(problems[0]?.message ?? "", ours);
    });
  }
});

describe("parseGateway", () => {
  it("accepts a plain address", () => {
    assert.deepEqual(parseGateway("198.51.100.1").value, { address: "198.51.100.1", family: 4 });
  });
  const bad: [string | undefined, RegExp][] = [
    [undefined, /it is not set/],
    ["198.51.100.1/24", /one address, not a prefix; drop the "\/24"/],
    ["gw.example.com", /not an IPv4 or IPv6 address/],
  ];
  for (const [input, ours] of bad) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      const { problems } = parseGateway(input);
      assert.equal(problems[0]?.openshift, "EGRESS_GATEWAY unspecified or invalid");
      assert.match(problems[0]?.message ?? "", ours);
    });
  }
  it("rejects a gateway of the other family than the source", () => {
    const source = parseSource("2001:db8::99").value;
    const { problems } = parseGateway("198.51.100.1", source);
    assert.match(problems[0]?.message ?? "", /IPv4 but EGRESS_SOURCE is IPv6/);
  });
});

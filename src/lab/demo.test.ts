import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Expectation } from "./demo-scenario.ts";
import { describeFirewall, describeSeen, meetsExpectation, summarize } from "./demo.ts";
import type { FirewallState } from "./firewall.ts";
import type { ProbeResult } from "./lab-probe.ts";

const sources = ["198.51.100.99", "2001:db8:2::99"];
const view = (peer: string, local: string, localPort: number) => ({
  server: "lab-external" as const,
  protocol: "tcp" as const,
  peer,
  peerPort: 40000,
  local,
  localPort,
});
const admitted: FirewallState = { admitted: 1, rejected: 0, rejectedSources: [] };
const quiet: FirewallState = { admitted: 0, rejected: 0, rejectedSources: [] };
const leak: FirewallState = { admitted: 0, rejected: 1, rejectedSources: ["192.0.2.10"] };

describe("meetsExpectation", () => {
  const reply: Expectation = { outcome: "reply", at: "203.0.113.25:80" };
  const cases: {
    name: string;
    expect: Expectation;
    r: ProbeResult;
    f: FirewallState;
    ok: boolean;
  }[] = [
    {
      name: "reply from the reserved source",
      expect: reply,
      r: { outcome: "reply", view: view("198.51.100.99", "203.0.113.25", 80), ms: 3 },
      f: admitted,
      ok: true,
    },
    {
      name: "reply from another source",
      expect: reply,
      r: { outcome: "reply", view: view("192.0.2.10", "203.0.113.25", 80), ms: 3 },
      f: admitted,
      ok: false,
    },
    {
      name: "reply at the wrong destination",
      expect: reply,
      r: { outcome: "reply", view: view("198.51.100.99", "203.0.113.26", 80), ms: 3 },
      f: admitted,
      ok: false,
    },
    {
      name: "IPv6 reply, bracketed",
      expect: { outcome: "reply", at: "[2001:db8:3::25]:80" },
      r: { outcome: "reply", view: view("2001:db8:2::99", "2001:db8:3::25", 80), ms: 3 },
      f: admitted,
      ok: true,
    },
    {
      name: "no answer when one was expected",
      expect: reply,
      r: { outcome: "timeout", ms: 2000 },
      f: quiet,
      ok: false,
    },
    {
      name: "refused as expected",
      expect: { outcome: "refused" },
      r: { outcome: "refused", ms: 3 },
      f: quiet,
      ok: true,
    },
    {
      name: "a leak spoils anything",
      expect: { outcome: "refused" },
      r: { outcome: "refused", ms: 3 },
      f: leak,
      ok: false,
    },
    {
      name: "timeout as expected",
      expect: { outcome: "timeout" },
      r: { outcome: "timeout", ms: 1000 },
      f: quiet,
      ok: true,
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(meetsExpectation(c.expect, c.r, c.f, sources), c.ok));
  }
});

describe("demo words", () => {
  it("says what the server saw and what the firewall did", () => {
    assert.equal(
      describeSeen({ outcome: "reply", view: view("198.51.100.99", "203.0.113.25", 80), ms: 1 }),
      "198.51.100.99 → 203.0.113.25:80",
    );
    assert.equal(describeSeen({ outcome: "refused", ms: 4 }), "nothing: refused in 4 ms");
    assert.equal(
      describeSeen({ outcome: "unreachable", detail: "EHOSTUNREACH", ms: 4 }),
      "nothing: unreachable (EHOSTUNREACH)",
    );
    assert.equal(describeFirewall(admitted), "admitted");
    assert.equal(describeFirewall(quiet), "not reached");
    assert.equal(describeFirewall(leak), "REJECTED 192.0.2.10");
  });

  it("summarizes: verdict, leaks, and modes with no scenarios", () => {
    const groups = [
      {
        mode: "redirect" as const,
        title: "",
        settings: [],
        setup: () => Promise.resolve(""),
        scenarios: [],
      },
    ];
    assert.equal(
      summarize({ rows: [{ asked: "a", ok: true }], leaked: [] }, groups, sources, false),
      "\n✔ 1 scenarios, all as expected.\n  The firewall rejected no source: nothing reached the outside from any address but 198.51.100.99 or 2001:db8:2::99.\n  No demo scenarios in this build for: http-proxy, dns-proxy, ha.\n",
    );
    assert.match(
      summarize(
        {
          rows: [
            { asked: "a", ok: true },
            { asked: "s", ok: true, skipped: "no SCTP" },
          ],
          leaked: [],
        },
        groups,
        sources,
        false,
      ),
      /^\n✔ 1 scenarios, all as expected \(1 skipped: see above\)\.\n/,
    );
    assert.match(
      summarize(
        {
          rows: [
            { asked: "a", ok: false },
            { asked: "b", ok: true },
          ],
          leaked: ["192.0.2.10"],
        },
        groups,
        sources,
        false,
      ),
      /✖ 1 of 2 scenarios not as expected\.\n {2}LEAK: the firewall rejected traffic from 192\.0\.2\.10\./,
    );
  });
});

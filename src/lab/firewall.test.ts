import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseFirewallState, renderFirewallReset } from "./firewall.ts";

describe("parseFirewallState", () => {
  it("reads the counters and the rejected sources of both families", () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: "1.0.6" } },
        { table: { family: "inet", name: "lab_firewall" } },
        {
          counter: {
            family: "inet",
            name: "admitted",
            table: "lab_firewall",
            packets: 3,
            bytes: 180,
          },
        },
        {
          counter: {
            family: "inet",
            name: "rejected",
            table: "lab_firewall",
            packets: 2,
            bytes: 120,
          },
        },
        { set: { family: "inet", name: "rejected_v4", type: "ipv4_addr", elem: ["192.0.2.10"] } },
        {
          set: {
            family: "inet",
            name: "rejected_v6",
            type: "ipv6_addr",
            elem: [{ elem: { val: "2001:db8:1::10", expires: 10 } }],
          },
        },
        { chain: { family: "inet", name: "input" } },
      ],
    });
    assert.deepEqual(parseFirewallState(json), {
      admitted: 3,
      rejected: 2,
      rejectedSources: ["192.0.2.10", "2001:db8:1::10"],
    });
  });

  it("an empty set has no elem", () => {
    const json = JSON.stringify({ nftables: [{ set: { name: "rejected_v4" } }] });
    assert.deepEqual(parseFirewallState(json), { admitted: 0, rejected: 0, rejectedSources: [] });
  });

  it("resets in one transaction", () => {
    assert.equal(
      renderFirewallReset(),
      "reset counters table inet lab_firewall\nflush set inet lab_firewall rejected_v4\nflush set inet lab_firewall rejected_v6\n",
    );
  });
});

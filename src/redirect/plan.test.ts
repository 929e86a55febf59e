import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRedirectRules } from "../config/redirect-rules.ts";
import { planRedirect, sysctlName } from "./plan.ts";
import { caseInput, redirectCases } from "./redirect-cases.ts";

const v4 = { address: "198.51.100.99", prefixLength: 32, family: 4 as const };
const v6 = { address: "2001:db8:2::99", prefixLength: 128, family: 6 as const };

function input(rules: string, extra: Partial<Parameters<typeof planRedirect>[0]> = {}) {
  return {
    source: v4,
    gateway: "198.51.100.1",
    rules: parseRedirectRules(rules).rules,
    clusterInterface: "eth0",
    egressInterface: "macvlan0",
    nat: true,
    ...extra,
  };
}

describe("planRedirect: kernel settings", () => {
  const cases = [
    { name: "IPv4 redirect", extra: {}, want: ["net.ipv4.ip_forward=1"] },
    {
      name: "IPv6 redirect",
      extra: { source: v6, gateway: "2001:db8:2::1", rules: [] },
      want: ["net.ipv6.conf.all.forwarding=1", "net.ipv6.conf.macvlan0.ndisc_notify=1"],
    },
    { name: "IPv4 proxy init: no forwarding", extra: { nat: false }, want: [] },
    {
      name: "IPv6 proxy init: announcement only",
      extra: { nat: false, source: v6, gateway: "2001:db8:2::1", rules: [] },
      want: ["net.ipv6.conf.macvlan0.ndisc_notify=1"],
    },
    {
      name: "interface name with a dot is written with a slash",
      extra: { source: v6, gateway: "2001:db8:2::1", rules: [], egressInterface: "eth1.100" },
      want: ["net.ipv6.conf.all.forwarding=1", "net.ipv6.conf.eth1/100.ndisc_notify=1"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planRedirect(input("", c.extra));
      assert.deepEqual(
        plan.network.sysctls.map((s) => `${sysctlName(s)}=${s.value}`),
        c.want,
      );
    });
  }
});

describe("planRedirect: NAT", () => {
  it("keeps every rule in order, with its line", () => {
    const plan = planRedirect(caseInput(redirectCases[0]!));
    assert.deepEqual(plan.nat?.dnat, [
      {
        line: 1,
        protocol: "tcp",
        localPort: 80,
        destination: "203.0.113.25",
        remotePort: undefined,
      },
      { line: 2, protocol: "tcp", localPort: 8080, destination: "203.0.113.26", remotePort: 80 },
      {
        line: 3,
        protocol: undefined,
        localPort: undefined,
        destination: "203.0.113.27",
        remotePort: undefined,
      },
    ]);
    assert.equal(plan.nat?.refuseUnmapped, false);
    assert.equal(plan.nat?.source, "198.51.100.99");
  });

  it("refuses unmapped ports when there is no fallback", () => {
    assert.equal(planRedirect(input("80 tcp 203.0.113.25")).nat?.refuseUnmapped, true);
    assert.equal(planRedirect(input("# none")).nat?.refuseUnmapped, true);
  });

  it("proxy modes get no NAT at all", () => {
    assert.equal(planRedirect(input("80 tcp 203.0.113.25", { nat: false })).nat, undefined);
  });

  it("a rule on the admin port wins, with a warning naming the line and the fix", () => {
    const plan = planRedirect(
      input("80 tcp 203.0.113.25\n9090 tcp 203.0.113.26", { localPorts: [9090, 9091] }),
    );
    assert.deepEqual(plan.nat?.localPorts, [9091]);
    assert.deepEqual(plan.warnings, [
      "EGRESS_DESTINATION line 2: Cannot reach the router's own port 9090 from the cluster side: the rule redirects it; move the admin server (EGRESS_ADMIN_PORT) or the rule to another port",
    ]);
  });

  it("a UDP rule on the admin port's number does not take the TCP admin port", () => {
    // the grammar refuses a port twice whatever the protocol; 9090/udp alone is fine
    const plan = planRedirect(input("9090 udp 203.0.113.26", { localPorts: [9090] }));
    assert.deepEqual(plan.nat?.localPorts, [9090]);
    assert.deepEqual(plan.warnings, []);
  });

  it("is frozen", () => {
    const plan = planRedirect(caseInput(redirectCases[0]!));
    assert.ok(
      Object.isFrozen(plan) && Object.isFrozen(plan.nat) && Object.isFrozen(plan.nat?.dnat),
    );
  });
});

// Named redirect configurations shared by the renderer tests (golden files for nft and
// iptables) and the plan tests: each one is a form a user can write, or a corner of one.
import { parseRedirectRules } from "../config/redirect-rules.ts";
import { parseSource } from "../config/router-addresses.ts";
import type { PlanInput } from "./plan.ts";

export interface RedirectCase {
  /** also the golden file's base name */
  readonly name: string;
  readonly source: string;
  readonly gateway: string;
  readonly rules: string;
  readonly clusterInterface?: string;
  readonly egressInterface?: string;
  readonly localPorts?: readonly number[];
  readonly keepVrrpSource?: boolean;
}

export const redirectCases: readonly RedirectCase[] = [
  {
    name: "openshift-example",
    source: "198.51.100.99",
    gateway: "198.51.100.1",
    rules: "80 tcp 203.0.113.25\n8080 tcp 203.0.113.26 80\n203.0.113.27\n",
  },
  {
    name: "ports-only-refuse-the-rest",
    source: "198.51.100.99/24",
    gateway: "198.51.100.1",
    rules:
      "# web\n80 tcp 203.0.113.25\n443 tcp 203.0.113.25\n514 udp 203.0.113.26\n5432 tcp 203.0.113.26 15432\n",
    localPorts: [9090],
  },
  {
    name: "fallback-keeps-admin-port",
    source: "198.51.100.99",
    gateway: "198.51.100.1",
    rules: "53 udp 203.0.113.53\n203.0.113.27\n",
    localPorts: [9090, 9091],
  },
  {
    name: "sctp",
    source: "198.51.100.99",
    gateway: "198.51.100.1",
    rules: "38412 sctp 203.0.113.25\n3868 sctp 203.0.113.26 3869\n",
  },
  {
    name: "ipv6",
    source: "2001:db8:2::99",
    gateway: "2001:db8:2::1",
    rules:
      "80 tcp 2001:db8:3::25\n8080 tcp 2001:db8:3::26 80\n123 udp 2001:db8:3::25\n2001:db8:3::27\n",
    localPorts: [9090],
  },
  {
    name: "ipv6-refuse-the-rest",
    source: "2001:db8:2::99/64",
    gateway: "2001:db8:2::1",
    rules: "443 tcp 2001:db8:3::25\n",
  },
  {
    name: "comments-only",
    source: "198.51.100.99",
    gateway: "198.51.100.1",
    rules: "# nothing redirected yet\n",
  },
  {
    name: "multus-interfaces",
    source: "198.51.100.99",
    gateway: "198.51.100.1",
    rules: "80 tcp 203.0.113.25\n",
    clusterInterface: "eth0",
    egressInterface: "net1",
  },
  {
    // a replica of an active/standby set, IPv6: its VRRP advertisements keep their source
    name: "active-standby-ipv6",
    source: "2001:db8:2::99/64",
    gateway: "2001:db8:2::1",
    rules: "443 tcp 2001:db8:3::25\n",
    localPorts: [9090],
    keepVrrpSource: true,
  },
];

/** The case as planRedirect input (parsed with the real grammar). */
export function caseInput(c: RedirectCase): PlanInput {
  const source = parseSource(c.source).value;
  const parsed = parseRedirectRules(c.rules);
  if (!source || parsed.problems.length > 0) {
    throw new Error(`case ${c.name}: ${parsed.problems.map((p) => p.message).join("; ")}`);
  }
  return {
    source,
    gateway: c.gateway,
    rules: parsed.rules,
    clusterInterface: c.clusterInterface ?? "eth0",
    egressInterface: c.egressInterface ?? "macvlan0",
    nat: true,
    localPorts: c.localPorts ?? [],
    ...(c.keepVrrpSource ? { keepVrrpSource: true } : {}),
  };
}

// Redirect mode, step one: compute what will be done, as a value. Pure: no I/O. The applier
// (apply-network.ts, apply-nat.ts) carries a Plan out; `redirect --dry-run` and the tests
// print it. Rendering the NAT part as text is render-nft.ts / render-iptables.ts.
import type { Family, Protocol, RedirectRule, SourceAddress } from "../config/types.ts";

/** A kernel setting under /proc/sys, as path segments (interface names may contain dots). */
export interface Sysctl {
  readonly path: readonly string[];
  readonly value: string;
  /** why the router needs it, for --dry-run and the debug trace */
  readonly why: string;
}

/** `net.ipv4.ip_forward`; a dot inside a segment (an interface name) is written as `/`, as sysctl(8) does. */
export function sysctlName(s: Sysctl): string {
  return s.path.map((p) => p.replaceAll(".", "/")).join(".");
}

/** Network setup: the source address on the egress interface, routes, kernel settings. */
export interface NetworkPlan {
  readonly family: Family;
  readonly egressInterface: string;
  /** the address and the prefix length the interface gets */
  readonly source: SourceAddress;
  readonly gateway: string;
  readonly sysctls: readonly Sysctl[];
}

/** One DNAT rule; a fallback has no protocol and no port. */
export interface DnatRule {
  /** line of EGRESS_DESTINATION it comes from */
  readonly line: number;
  readonly protocol: Protocol | undefined;
  readonly localPort: number | undefined;
  readonly destination: string;
  /** undefined: the same port as the local one (or every port, for a fallback) */
  readonly remotePort: number | undefined;
}

/** The NAT and filter rules of redirect mode; the same value feeds both renderers. */
export interface NatPlan {
  readonly family: Family;
  readonly clusterInterface: string;
  readonly egressInterface: string;
  /** the reserved source address every redirected packet leaves with (SNAT) */
  readonly source: string;
  /** in rule order; a fallback, when there is one, is last */
  readonly dnat: readonly DnatRule[];
  /**
   * TCP ports the router itself serves on the cluster interface (the admin server): the
   * fallback does not take them and the refusal leaves them open.
   */
  readonly localPorts: readonly number[];
  /** no fallback: new connections to any other port are refused (TCP reset, ICMP port unreachable) */
  readonly refuseUnmapped: boolean;
  /**
   * A replica of an active/standby set (docs/ha.md): its own VRRP advertisements leave the
   * egress interface with their own source address. SNAT to the source address would make
   * them unacceptable to the other replicas (VRRP over IPv6 must come from a link-local
   * address; unicast peers are known by their own address), which would then elect themselves.
   */
  readonly keepVrrpSource: boolean;
}

export interface Plan {
  readonly network: NetworkPlan;
  /** undefined in the proxy modes: network setup only */
  readonly nat: NatPlan | undefined;
  /** things the operator should know that do not stop the router */
  readonly warnings: readonly string[];
}

export interface PlanInput {
  readonly source: SourceAddress;
  readonly gateway: string;
  readonly rules: readonly RedirectRule[];
  readonly clusterInterface: string;
  readonly egressInterface: string;
  /** false: network setup only (http-proxy and dns-proxy init) */
  readonly nat: boolean;
  /** TCP ports the router serves on the cluster side (the admin port), see NatPlan.localPorts */
  readonly localPorts?: readonly number[];
  /** the setting the rules came from, for warnings; default EGRESS_DESTINATION */
  readonly rulesSetting?: string;
  /** an active/standby replica: see NatPlan.keepVrrpSource */
  readonly keepVrrpSource?: boolean;
}

/**
 * The kernel settings redirect mode needs, found by experiment in network namespaces. A new
 * namespace takes IPv4 forwarding from the host (net.core.devconf_inherit_init_net=0, the
 * default; Kubernetes nodes have it on) and starts IPv6 forwarding and ndisc_notify at 0.
 * Only a setting that differs is written, so an inherited value needs no privilege.
 * - forwarding: a DNAT-ed packet is routed to another host; without it the kernel drops it
 *   and the client's connection times out.
 * - IPv6 ndisc_notify on the egress interface: the kernel then sends an unsolicited
 *   neighbour advertisement when the address becomes usable (after duplicate address
 *   detection), the IPv6 twin of the gratuitous ARP (arping cannot do IPv6).
 */
export function requiredSysctls(family: Family, egressInterface: string, nat: boolean): Sysctl[] {
  const out: Sysctl[] = [];
  if (nat) {
    out.push(
      family === 4
        ? {
            path: ["net", "ipv4", "ip_forward"],
            value: "1",
            why: "DNAT-ed packets are forwarded to their destination; with forwarding off the kernel drops them",
          }
        : {
            path: ["net", "ipv6", "conf", "all", "forwarding"],
            value: "1",
            why: "DNAT-ed packets are forwarded to their destination; with forwarding off the kernel drops them",
          },
    );
  }
  if (family === 6) {
    out.push({
      path: ["net", "ipv6", "conf", egressInterface, "ndisc_notify"],
      value: "1",
      why: "announce the source address with an unsolicited neighbour advertisement once it is usable",
    });
  }
  return out;
}

/** Builds the plan. The rules are already valid (the grammar checked them). */
export function planRedirect(input: PlanInput): Plan {
  const family = input.source.family;
  const network: NetworkPlan = Object.freeze({
    family,
    egressInterface: input.egressInterface,
    source: input.source,
    gateway: input.gateway,
    sysctls: Object.freeze(requiredSysctls(family, input.egressInterface, input.nat)),
  });
  if (!input.nat) return Object.freeze({ network, nat: undefined, warnings: [] });

  const setting = input.rulesSetting ?? "EGRESS_DESTINATION";
  const warnings: string[] = [];
  const localPorts = [...new Set(input.localPorts ?? [])].sort((a, b) => a - b);
  const dnat: DnatRule[] = input.rules.map((r) =>
    Object.freeze(
      r.kind === "port"
        ? {
            line: r.line,
            protocol: r.protocol,
            localPort: r.localPort,
            destination: r.destination,
            remotePort: r.remotePort,
          }
        : {
            line: r.line,
            protocol: undefined,
            localPort: undefined,
            destination: r.destination,
            remotePort: undefined,
          },
    ),
  );
  for (const r of dnat) {
    if (r.protocol === "tcp" && r.localPort !== undefined && localPorts.includes(r.localPort)) {
      warnings.push(
        `${setting} line ${r.line}: Cannot reach the router's own port ${r.localPort} from the cluster side: the rule redirects it; move the admin server (EGRESS_ADMIN_PORT) or the rule to another port`,
      );
    }
  }
  const hasFallback = dnat.some((r) => r.protocol === undefined);
  const nat: NatPlan = Object.freeze({
    family,
    clusterInterface: input.clusterInterface,
    egressInterface: input.egressInterface,
    source: input.source.address,
    dnat: Object.freeze(dnat),
    localPorts: Object.freeze(
      localPorts.filter((p) => !dnat.some((r) => r.protocol === "tcp" && r.localPort === p)),
    ),
    refuseUnmapped: !hasFallback,
    keepVrrpSource: input.keepVrrpSource === true,
  });
  return Object.freeze({ network, nat, warnings: Object.freeze(warnings) });
}

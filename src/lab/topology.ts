// The lab's shape as a value: namespace names, interface names and addresses. Pure, so the
// build steps can be rendered and reviewed without root. Documentation ranges only
// (RFC 5737, RFC 3849): the lab never sends a packet to a real network.
//
//   client ──eth0┐                                   ┌─ external (firewall: reserved source only)
//                ├─cbr0 [node] ens0 ── lan0 [gateway] wan0 ─┤
//   router ──eth0┘          ╰─macvlan0 (router)       └─ dns (dnsmasq)
//                             (or ipvlan0, ipvlan L2)
//
// The node holds the cluster bridge (pods' eth0) and the uplink (ens0) the egress
// interface hangs off (macvlan) or sits beside (veth). The node does not forward: the
// only way out of the cluster is through the router's egress interface.

/** The role of a namespace in the lab. */
export type LabRole = "client" | "router" | "node" | "gateway" | "external" | "dns";
export const LAB_ROLES: readonly LabRole[] = Object.freeze([
  "client",
  "router",
  "node",
  "gateway",
  "external",
  "dns",
]);

/**
 * Namespaces a lab may have besides its roles: the second router pod of a lab built with
 * `--ha` (ha-lab.ts). A lab without it is complete; removing a lab removes it too.
 */
export type ExtraRole = "routerb";
export const EXTRA_ROLES: readonly ExtraRole[] = Object.freeze(["routerb"]);

/**
 * How the router's egress interface is attached to the LAN. `macvlan` is what OpenShift SDN
 * and Multus create (a MAC address of its own on the node's uplink); `ipvlan` (L2 mode) shares
 * the uplink's MAC address, for networks that drop or limit extra MACs (docs/networks.md);
 * `veth` is a plain cable to the LAN bridge. New types are added here and in build.ts's
 * egress step.
 */
export type EgressLinkType = "macvlan" | "ipvlan" | "veth";
export const EGRESS_LINK_TYPES: readonly EgressLinkType[] = Object.freeze([
  "macvlan",
  "ipvlan",
  "veth",
]);

/** The egress interface's name when none is given: OpenShift SDN's for macvlan, else one naming the type. */
export function defaultEgressInterface(link: EgressLinkType): string {
  return link === "ipvlan" ? "ipvlan0" : "macvlan0";
}

/** Every address of one family. */
export interface FamilyAddresses {
  /** the client pod */
  readonly client: string;
  /** the router pod's cluster-side address (where clients send traffic) */
  readonly routerCluster: string;
  /** the node's address on the cluster bridge: the pods' first default route */
  readonly clusterGateway: string;
  /** the reserved source address: the only one the external firewall admits */
  readonly source: string;
  /** the gateway's address on the LAN (EGRESS_GATEWAY) */
  readonly gateway: string;
  /** the gateway's address on the outside network */
  readonly gatewayOutside: string;
  /** addresses of the external server, all behind its firewall */
  readonly external: readonly string[];
  /** the DNS server */
  readonly dns: string;
  readonly clusterPrefix: number;
  readonly lanPrefix: number;
  readonly outsidePrefix: number;
}

export interface LabTopology {
  readonly name: string;
  readonly namespaces: Readonly<Record<LabRole, string>>;
  readonly egressLink: EgressLinkType;
  /** interface names inside the router namespace */
  readonly clusterInterface: string;
  readonly egressInterface: string;
  readonly v4: FamilyAddresses;
  readonly v6: FamilyAddresses;
}

/** Every lab namespace is named `erlab-<lab name>-<role>`. */
export const NAMESPACE_PREFIX = "erlab-";
const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,23}$/;
const IFNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

export interface TopologyOptions {
  readonly egressLink?: EgressLinkType;
  readonly clusterInterface?: string;
  readonly egressInterface?: string;
}

/** Checks a lab name; returns the problem in the project's message style, or undefined. */
export function labNameProblem(name: string): string | undefined {
  if (NAME_PATTERN.test(name)) return undefined;
  return `lab: Cannot use the name "${name}": it must be 1-24 lower-case letters, digits or "-", starting with a letter or digit; pick another with --name`;
}

export function namespaceName(lab: string, role: LabRole | ExtraRole): string {
  return `${NAMESPACE_PREFIX}${lab}-${role}`;
}

/** Splits a namespace name into lab name and role, if it is one of ours. */
export function parseNamespaceName(
  ns: string,
): { lab: string; role: LabRole | ExtraRole } | undefined {
  if (!ns.startsWith(NAMESPACE_PREFIX)) return undefined;
  const rest = ns.slice(NAMESPACE_PREFIX.length);
  const dash = rest.lastIndexOf("-");
  if (dash <= 0) return undefined;
  const role = rest.slice(dash + 1) as LabRole | ExtraRole;
  const lab = rest.slice(0, dash);
  const known =
    (LAB_ROLES as readonly string[]).includes(role) ||
    (EXTRA_ROLES as readonly string[]).includes(role);
  if (!known || !NAME_PATTERN.test(lab)) return undefined;
  return { lab, role };
}

/** The lab's full shape. Throws an Error with a one-line message for a bad name. */
export function labTopology(name: string, options: TopologyOptions = {}): LabTopology {
  const problem = labNameProblem(name);
  if (problem) throw new Error(problem);
  const clusterInterface = options.clusterInterface ?? "eth0";
  const egressLink = options.egressLink ?? "macvlan";
  const egressInterface = options.egressInterface ?? defaultEgressInterface(egressLink);
  for (const [what, ifname] of [
    ["cluster", clusterInterface],
    ["egress", egressInterface],
  ] as const) {
    if (!IFNAME_PATTERN.test(ifname)) {
      throw new Error(
        `lab: Cannot use "${ifname}" as the ${what} interface name: an interface name is 1-15 letters, digits, "_", "." or "-"; pick another`,
      );
    }
  }
  if (clusterInterface === egressInterface) {
    throw new Error(
      `lab: Cannot use "${egressInterface}" as both the cluster and the egress interface; give them different names`,
    );
  }
  const namespaces = Object.freeze(
    Object.fromEntries(LAB_ROLES.map((r) => [r, namespaceName(name, r)])) as Record<
      LabRole,
      string
    >,
  );
  return Object.freeze({
    name,
    namespaces,
    egressLink,
    clusterInterface,
    egressInterface,
    v4: Object.freeze({
      client: "192.0.2.10",
      routerCluster: "192.0.2.2",
      clusterGateway: "192.0.2.1",
      source: "198.51.100.99",
      gateway: "198.51.100.1",
      gatewayOutside: "203.0.113.1",
      external: Object.freeze(["203.0.113.25", "203.0.113.26", "203.0.113.27"]),
      dns: "203.0.113.53",
      clusterPrefix: 24,
      lanPrefix: 24,
      outsidePrefix: 24,
    }),
    v6: Object.freeze({
      client: "2001:db8:1::10",
      routerCluster: "2001:db8:1::2",
      clusterGateway: "2001:db8:1::1",
      source: "2001:db8:2::99",
      gateway: "2001:db8:2::1",
      gatewayOutside: "2001:db8:3::1",
      external: Object.freeze(["2001:db8:3::25", "2001:db8:3::26", "2001:db8:3::27"]),
      dns: "2001:db8:3::53",
      clusterPrefix: 64,
      lanPrefix: 64,
      outsidePrefix: 64,
    }),
  });
}

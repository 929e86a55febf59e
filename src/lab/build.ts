// The commands that build a lab, as data (pure): namespaces, links, addresses, routes,
// kernel settings and the external firewall. lab.ts runs them in order; a test reads them.
import type { FamilyAddresses, LabRole, LabTopology } from "./topology.ts";
import { LAB_ROLES, namespaceName } from "./topology.ts";
import { renderFirewall } from "./firewall.ts";

/** One build step: argv run on the host (the commands select namespaces themselves). */
export interface BuildStep {
  readonly argv: readonly string[];
  /** text for the command's stdin */
  readonly input?: string;
}

function ipIn(ns: string, ...args: string[]): BuildStep {
  return { argv: ["ip", "-n", ns, ...args] };
}

function sysctlIn(ns: string, key: string, value: string): BuildStep {
  return { argv: ["ip", "netns", "exec", ns, "sysctl", "-q", "-w", `${key}=${value}`] };
}

/** A veth pair whose two ends are created directly inside two namespaces. */
function veth(nsA: string, nameA: string, nsB: string, nameB: string): BuildStep {
  return {
    argv: ["ip", "link", "add", nameA, "netns", nsA, "type", "veth", "peer", "name", nameB].concat([
      "netns",
      nsB,
    ]),
  };
}

function addresses(
  ns: string,
  dev: string,
  pick: (f: FamilyAddresses) => readonly string[],
  prefix: (f: FamilyAddresses) => number,
  t: LabTopology,
): BuildStep[] {
  const steps: BuildStep[] = [];
  for (const a of pick(t.v4))
    steps.push(ipIn(ns, "-4", "address", "add", `${a}/${prefix(t.v4)}`, "dev", dev));
  // nodad: lab addresses are unique by construction, and must be usable at once
  for (const a of pick(t.v6)) {
    steps.push(ipIn(ns, "-6", "address", "add", `${a}/${prefix(t.v6)}`, "dev", dev, "nodad"));
  }
  return steps;
}

function defaultRoutes(
  ns: string,
  via: (f: FamilyAddresses) => string,
  t: LabTopology,
): BuildStep[] {
  return [
    ipIn(ns, "-4", "route", "add", "default", "via", via(t.v4)),
    ipIn(ns, "-6", "route", "add", "default", "via", via(t.v6)),
  ];
}

/** Every step that builds the lab's network, in order. Servers are started by lab.ts. */
export function labBuildSteps(t: LabTopology): BuildStep[] {
  const ns = t.namespaces;
  const steps: BuildStep[] = [];
  for (const role of LAB_ROLES) steps.push({ argv: ["ip", "netns", "add", ns[role]] });
  for (const role of LAB_ROLES) steps.push(ipIn(ns[role], "link", "set", "lo", "up"));

  // Kernel settings. The router's egress side is left at the kernel defaults on purpose:
  // setting it up (forwarding, DAD, announcements) is the product's job, and the tests
  // prove it does. Strict reverse-path filtering is what many distributions default to.
  const noDad: LabRole[] = ["client", "node", "gateway", "external", "dns"];
  for (const role of noDad) {
    steps.push(sysctlIn(ns[role], "net.ipv6.conf.all.accept_dad", "0"));
    steps.push(sysctlIn(ns[role], "net.ipv6.conf.default.accept_dad", "0"));
  }
  steps.push(sysctlIn(ns.gateway, "net.ipv4.ip_forward", "1"));
  steps.push(sysctlIn(ns.gateway, "net.ipv6.conf.all.forwarding", "1"));
  // Forwarding off, as in a fresh namespace, even on hosts whose namespaces inherit the
  // host's settings (net.core.devconf_inherit_init_net): the router must turn it on itself.
  steps.push(sysctlIn(ns.router, "net.ipv4.ip_forward", "0"));
  steps.push(sysctlIn(ns.router, "net.ipv6.conf.all.forwarding", "0"));
  steps.push(sysctlIn(ns.router, "net.ipv4.conf.all.rp_filter", "1"));
  steps.push(sysctlIn(ns.router, "net.ipv4.conf.default.rp_filter", "1"));

  // The cluster: a bridge on the node, the pods' eth0 on it.
  steps.push(ipIn(ns.node, "link", "add", "cbr0", "type", "bridge"));
  steps.push(ipIn(ns.node, "link", "set", "cbr0", "up"));
  steps.push(
    ...addresses(
      ns.node,
      "cbr0",
      (f) => [f.clusterGateway],
      (f) => f.clusterPrefix,
      t,
    ),
  );
  const pods: [LabRole, string, (f: FamilyAddresses) => string][] = [
    ["client", "eth0", (f) => f.client],
    ["router", t.clusterInterface, (f) => f.routerCluster],
  ];
  for (const [role, dev, addr] of pods) {
    const port = `v-${role}`;
    steps.push(veth(ns[role], dev, ns.node, port));
    steps.push(ipIn(ns.node, "link", "set", port, "master", "cbr0", "up"));
    steps.push(
      ...addresses(
        ns[role],
        dev,
        (f) => [addr(f)],
        (f) => f.clusterPrefix,
        t,
      ),
    );
    steps.push(ipIn(ns[role], "link", "set", dev, "up"));
    steps.push(...defaultRoutes(ns[role], (f) => f.clusterGateway, t));
  }

  // The LAN: a bridge on the gateway; the node's uplink on it.
  steps.push(ipIn(ns.gateway, "link", "add", "lan0", "type", "bridge"));
  steps.push(ipIn(ns.gateway, "link", "set", "lan0", "up"));
  steps.push(
    ...addresses(
      ns.gateway,
      "lan0",
      (f) => [f.gateway],
      (f) => f.lanPrefix,
      t,
    ),
  );
  steps.push(veth(ns.node, "ens0", ns.gateway, "v-node"));
  steps.push(ipIn(ns.gateway, "link", "set", "v-node", "master", "lan0", "up"));
  steps.push(ipIn(ns.node, "link", "set", "ens0", "up"));
  // The egress interface, as the SDN leaves it: in the router namespace, down, no address.
  switch (t.egressLink) {
    case "macvlan":
      steps.push(
        ipIn(
          ns.node,
          "link",
          "add",
          t.egressInterface,
          "link",
          "ens0",
          "type",
          "macvlan",
          "mode",
          "bridge",
        ),
      );
      steps.push(ipIn(ns.node, "link", "set", t.egressInterface, "netns", ns.router));
      break;
    case "ipvlan":
      // L2 mode: the router's frames carry ens0's own MAC address; the LAN sees no new MAC
      steps.push(
        ipIn(
          ns.node,
          "link",
          "add",
          t.egressInterface,
          "link",
          "ens0",
          "type",
          "ipvlan",
          "mode",
          "l2",
        ),
      );
      steps.push(ipIn(ns.node, "link", "set", t.egressInterface, "netns", ns.router));
      break;
    case "veth":
      steps.push(veth(ns.router, t.egressInterface, ns.gateway, "v-router"));
      steps.push(ipIn(ns.gateway, "link", "set", "v-router", "master", "lan0", "up"));
      break;
  }

  // The outside: a second bridge on the gateway, the external server and DNS on it.
  steps.push(ipIn(ns.gateway, "link", "add", "wan0", "type", "bridge"));
  steps.push(ipIn(ns.gateway, "link", "set", "wan0", "up"));
  steps.push(
    ...addresses(
      ns.gateway,
      "wan0",
      (f) => [f.gatewayOutside],
      (f) => f.outsidePrefix,
      t,
    ),
  );
  const outside: [LabRole, (f: FamilyAddresses) => readonly string[]][] = [
    ["external", (f) => f.external],
    ["dns", (f) => [f.dns]],
  ];
  for (const [role, addrs] of outside) {
    const port = `v-${role}`;
    steps.push(veth(ns[role], "eth0", ns.gateway, port));
    steps.push(ipIn(ns.gateway, "link", "set", port, "master", "wan0", "up"));
    steps.push(...addresses(ns[role], "eth0", addrs, (f) => f.outsidePrefix, t));
    steps.push(ipIn(ns[role], "link", "set", "eth0", "up"));
    steps.push(...defaultRoutes(ns[role], (f) => f.gatewayOutside, t));
  }

  steps.push({
    argv: ["ip", "netns", "exec", ns.external, "nft", "-f", "-"],
    input: renderFirewall(t),
  });
  return steps;
}

/** The second router pod's cluster-side addresses (the first one has routerCluster). */
export const SECOND_ROUTER_CLUSTER = Object.freeze({ v4: "192.0.2.3", v6: "2001:db8:1::3" });

/**
 * The steps that add a second router pod to a built lab (`lab up --ha`, ha-lab.ts): wired as
 * the first one — its eth0 on the cluster bridge, its egress interface on the same LAN, the
 * same kernel settings — in the namespace erlab-<name>-routerb. ipvlan is refused by the
 * caller: two ipvlan interfaces share the node's MAC address, so their IPv6 link-local
 * addresses, which VRRP speaks from, collide.
 */
export function secondRouterSteps(t: LabTopology): BuildStep[] {
  const ns = t.namespaces;
  const nsB = namespaceName(t.name, "routerb");
  const steps: BuildStep[] = [
    { argv: ["ip", "netns", "add", nsB] },
    ipIn(nsB, "link", "set", "lo", "up"),
    sysctlIn(nsB, "net.ipv4.ip_forward", "0"),
    sysctlIn(nsB, "net.ipv6.conf.all.forwarding", "0"),
    sysctlIn(nsB, "net.ipv4.conf.all.rp_filter", "1"),
    sysctlIn(nsB, "net.ipv4.conf.default.rp_filter", "1"),
    veth(nsB, t.clusterInterface, ns.node, "v-routerb"),
    ipIn(ns.node, "link", "set", "v-routerb", "master", "cbr0", "up"),
    ipIn(
      nsB,
      "-4",
      "address",
      "add",
      `${SECOND_ROUTER_CLUSTER.v4}/${t.v4.clusterPrefix}`,
      "dev",
      t.clusterInterface,
    ),
    ipIn(
      nsB,
      "-6",
      "address",
      "add",
      `${SECOND_ROUTER_CLUSTER.v6}/${t.v6.clusterPrefix}`,
      "dev",
      t.clusterInterface,
      "nodad",
    ),
    ipIn(nsB, "link", "set", t.clusterInterface, "up"),
    ...defaultRoutes(nsB, (f) => f.clusterGateway, t),
  ];
  switch (t.egressLink) {
    case "macvlan":
      // made on the node under a name of its own, then named as the pod sees it
      steps.push(
        ipIn(
          ns.node,
          "link",
          "add",
          "mv-routerb",
          "link",
          "ens0",
          "type",
          "macvlan",
          "mode",
          "bridge",
        ),
        ipIn(ns.node, "link", "set", "mv-routerb", "netns", nsB),
        ipIn(nsB, "link", "set", "mv-routerb", "name", t.egressInterface),
      );
      break;
    case "veth":
      steps.push(
        veth(nsB, t.egressInterface, ns.gateway, "v-router-b"),
        ipIn(ns.gateway, "link", "set", "v-router-b", "master", "lan0", "up"),
      );
      break;
    case "ipvlan":
      throw new Error("secondRouterSteps: ipvlan interfaces of two routers share a MAC address");
  }
  // No multicast querier in a lab: the bridge floods the VRRP group instead of learning it.
  steps.push(ipIn(ns.gateway, "link", "set", "lan0", "type", "bridge", "mcast_snooping", "0"));
  return steps;
}

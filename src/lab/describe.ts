// The lab's map, for `lab up`, `lab status` and the demo: who is where, with which address.
import { SECOND_ROUTER_CLUSTER } from "./build.ts";
import type { RouterState } from "./ha-lab.ts";
import { CLUSTER_VIP, HA_PORT } from "./ha-lab.ts";
import type { Lab } from "./lab.ts";
import { LAB_SERVER_PORTS } from "./lab.ts";
import { namespaceName } from "./topology.ts";

export function describeLab(lab: Lab, options: { ha?: boolean } = {}): string {
  const { v4, v6, namespaces: ns, topology: t } = lab;
  const rows: [string, string, string][] = [
    ["client", ns.client, `eth0 ${v4.client}, ${v6.client}`],
    [
      "router",
      ns.router,
      `${t.clusterInterface} ${v4.routerCluster}, ${v6.routerCluster}; ${t.egressInterface} (${t.egressLink}) for the reserved source ${v4.source}, ${v6.source}`,
    ],
    ["node", ns.node, `cluster bridge ${v4.clusterGateway}; uplink to the LAN (does not forward)`],
    [
      "gateway",
      ns.gateway,
      `LAN ${v4.gateway}, ${v6.gateway}; outside ${v4.gatewayOutside}, ${v6.gatewayOutside}`,
    ],
    [
      "external",
      ns.external,
      `${v4.external.join(", ")} and ${v6.external.join(", ")}; firewall admits only ${v4.source}, ${v6.source}`,
    ],
    ["dns", ns.dns, `${v4.dns}, ${v6.dns}: ${lab.records.map((r) => r.name).join(", ")}`],
  ];
  const out = rows.map(([role, n, what]) => `  ${role.padEnd(9)} ${n.padEnd(28)} ${what}`);
  out.push(
    "",
    `  external server ports: HTTP ${LAB_SERVER_PORTS.http.join(", ")}; TCP ${LAB_SERVER_PORTS.tcp.join(", ")}; UDP ${LAB_SERVER_PORTS.udp.join(", ")}`,
    `  each answer names the address it came from (JSON); the pods resolve names through the lab's DNS`,
    "",
  );
  // a lab built with --ha: its router pods run the active/standby routers (describeHaLab)
  if (options.ha === true) return `${out.join("\n")}\n`;
  out.push(
    `  try: ip netns exec ${ns.router} bin/egress-router redirect --source ${v4.source} --gateway ${v4.gateway} --destination "80 tcp ${v4.external[0] ?? ""}"`,
    `       ip netns exec ${ns.client} curl -s http://${v4.routerCluster}/`,
    "",
  );
  return `${out.join("\n")}\n`;
}

/** One line per router pod of a lab built with --ha: who holds, who waits. */
export function describeHolders(states: readonly RouterState[]): string {
  const lines = states.map((s) => {
    const has = [s.source ? "the source address" : "", s.vip ? CLUSTER_VIP : ""]
      .filter((x) => x !== "")
      .join(" and ");
    const what = !s.running
      ? "not running"
      : `${s.role ?? "?"}${s.ready ? ", ready" : ", not ready"}${s.reason ? ` (${s.reason})` : ""}${has ? `; has ${has}` : ""}${s.splitBrain === "keeping" || s.splitBrain === "standing-down" ? `; split-brain: ${s.splitBrain}` : ""}`;
    return `  router ${s.router}  ${what}`;
  });
  const holders = states.filter((s) => s.ready && s.source);
  lines.push(
    holders.length === 1
      ? `  → router ${holders[0]?.router ?? ""} holds the source address`
      : holders.length === 0
        ? "  → nobody holds the source address"
        : "  → more than one router holds the source address",
  );
  return `${lines.join("\n")}\n`;
}

/** The map of a lab built with --ha: the second router pod and the address clients use. */
export function describeHaLab(lab: Lab): string {
  const t = lab.topology;
  return [
    `  router b  ${namespaceName(lab.name, "routerb").padEnd(28)} ${t.clusterInterface} ${SECOND_ROUTER_CLUSTER.v4}, ${SECOND_ROUTER_CLUSTER.v6}; ${t.egressInterface} (${t.egressLink}) on the same LAN`,
    "",
    `  both router pods run egress-router ha run; keepalived elects the holder of ${lab.v4.source}`,
    `  clients use ${CLUSTER_VIP} (it moves with the holder): tcp ${CLUSTER_VIP}:${HA_PORT} → ${lab.v4.external[0] ?? ""}:${HA_PORT}`,
    `  try: ip netns exec ${lab.namespaces.client} curl -s telnet://${CLUSTER_VIP}:${HA_PORT} --max-time 1`,
    `       bin/egress-router lab status --name ${lab.name}`,
    "",
  ].join("\n");
}

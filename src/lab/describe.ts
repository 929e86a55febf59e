// The lab's map, for `lab up`, `lab status` and the demo: who is where, with which address.
import type { Lab } from "./lab.ts";
import { LAB_SERVER_PORTS } from "./lab.ts";

export function describeLab(lab: Lab): string {
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
    `  try: ip netns exec ${ns.router} bin/egress-router redirect --source ${v4.source} --gateway ${v4.gateway} --destination "80 tcp ${v4.external[0] ?? ""}"`,
    `       ip netns exec ${ns.client} curl -s http://${v4.routerCluster}/`,
    "",
  );
  return `${out.join("\n")}\n`;
}

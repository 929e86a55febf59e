// The `add rule` lines OpenShift's router image printed in `unit-test` mode: one per rule
// in input order, then the SNAT rule (always, even when every line was a comment). The
// source is printed without its /N. IPv6 sources use the `ip6 nat` table.
import type { RedirectRule, SourceAddress } from "../config/types.ts";

export interface NatInterfaces {
  /** where redirected traffic arrives (OpenShift: eth0) */
  readonly cluster: string;
  /** where it leaves from the source address (OpenShift: macvlan0) */
  readonly egress: string;
}

function dnatTarget(r: RedirectRule): string {
  const ip =
    r.family === 6 && r.kind === "port" && r.remotePort !== undefined
      ? `[${r.destination}]`
      : r.destination;
  return r.kind === "port" && r.remotePort !== undefined ? `${ip}:${r.remotePort}` : ip;
}

/** The prerouting DNAT rule body for one redirect rule, e.g. `iifname "eth0" tcp dport 80 dnat to 203.0.113.25`. */
export function dnatRuleBody(r: RedirectRule, cluster: string): string {
  const match = r.kind === "port" ? ` ${r.protocol} dport ${r.localPort}` : "";
  return `iifname "${cluster}"${match} dnat to ${dnatTarget(r)}`;
}

export function renderUnitTestRules(
  source: SourceAddress,
  rules: readonly RedirectRule[],
  ifaces: NatInterfaces,
): string {
  const table = source.family === 6 ? "ip6 nat" : "ip nat";
  const lines = rules.map((r) => `add rule ${table} prerouting ${dnatRuleBody(r, ifaces.cluster)}`);
  lines.push(`add rule ${table} postrouting oifname "${ifaces.egress}" snat to ${source.address}`);
  return `${lines.join("\n")}\n`;
}

// The external server's firewall: it admits new connections ONLY from the reserved source
// address, and remembers every other source it turned away. That makes a leak loud: if the
// router ever lets a packet out with another address, the firewall rejects it and names it.
// ICMP errors are let in from anyone: they open nothing, and counting them would blame the
// gateway for reporting that it cannot route the firewall's own rejections back.
import type { LabTopology } from "./topology.ts";

export const FIREWALL_TABLE = "lab_firewall";

/** The nft ruleset loaded into the external server's namespace. */
export function renderFirewall(t: LabTopology): string {
  return `table inet ${FIREWALL_TABLE} {
\tcounter admitted {
\t}

\tcounter rejected {
\t}

\tset rejected_v4 {
\t\ttype ipv4_addr
\t\tflags dynamic
\t\tsize 4096
\t}

\tset rejected_v6 {
\t\ttype ipv6_addr
\t\tflags dynamic
\t\tsize 4096
\t}

\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tiif "lo" accept
\t\tct state established,related accept
\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept
\t\ticmp type { destination-unreachable, time-exceeded, parameter-problem } accept
\t\ticmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept
\t\tip saddr ${t.v4.source} counter name "admitted" accept
\t\tip6 saddr ${t.v6.source} counter name "admitted" accept
\t\tmeta nfproto ipv4 add @rejected_v4 { ip saddr }
\t\tmeta nfproto ipv6 add @rejected_v6 { ip6 saddr }
\t\tcounter name "rejected"
\t\tmeta l4proto tcp reject with tcp reset
\t\treject with icmpx type port-unreachable
\t}
}
`;
}

/** What the firewall did since it was last reset. */
export interface FirewallState {
  /** new flows admitted (from the reserved source) */
  readonly admitted: number;
  /** packets of new flows rejected (from any other source) */
  readonly rejected: number;
  /** every source address the firewall rejected */
  readonly rejectedSources: readonly string[];
}

interface NftJsonObject {
  readonly counter?: { readonly name: string; readonly packets: number };
  readonly set?: {
    readonly name: string;
    readonly elem?: readonly (string | { readonly elem?: { readonly val?: string } })[];
  };
}

/** Reads the state from `nft -j list table inet lab_firewall` output. */
export function parseFirewallState(json: string): FirewallState {
  const parsed = JSON.parse(json) as { nftables?: readonly NftJsonObject[] };
  let admitted = 0;
  let rejected = 0;
  const sources: string[] = [];
  for (const obj of parsed.nftables ?? []) {
    if (obj.counter?.name === "admitted") admitted = obj.counter.packets;
    if (obj.counter?.name === "rejected") rejected = obj.counter.packets;
    if (obj.set && obj.set.name.startsWith("rejected_")) {
      for (const e of obj.set.elem ?? []) {
        const value = typeof e === "string" ? e : e.elem?.val;
        if (value !== undefined) sources.push(value);
      }
    }
  }
  return { admitted, rejected, rejectedSources: sources.sort() };
}

/** The nft commands (one transaction) that zero the counters and forget rejected sources. */
export function renderFirewallReset(): string {
  return [
    `reset counters table inet ${FIREWALL_TABLE}`,
    `flush set inet ${FIREWALL_TABLE} rejected_v4`,
    `flush set inet ${FIREWALL_TABLE} rejected_v6`,
    "",
  ].join("\n");
}

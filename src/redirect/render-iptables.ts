// NatPlan → the text for `iptables-restore` (`ip6tables-restore` for IPv6): the alternative
// backend for hosts without nft, rendering the same plan as render-nft.ts rule for rule.
// iptables-restore replaces each table it is given as a whole (older OpenShift images
// flushed the nat table the same way), so a reload swaps the old rules for the new at once.
import type { DnatRule, NatPlan } from "./plan.ts";

/** The program that loads the text: iptables-restore or ip6tables-restore. */
export function iptablesRestoreProgram(plan: Pick<NatPlan, "family">): string {
  return plan.family === 6 ? "ip6tables-restore" : "iptables-restore";
}

function target(plan: NatPlan, r: DnatRule): string {
  if (r.remotePort === undefined) return r.destination;
  return plan.family === 6
    ? `[${r.destination}]:${r.remotePort}`
    : `${r.destination}:${r.remotePort}`;
}

function ports(list: readonly number[]): string {
  return list.length === 1
    ? `-m tcp --dport ${list[0]}`
    : `-m multiport --dports ${list.join(",")}`;
}

/** Network-only modes: the filter table with nothing forwarded (see renderNftForwardGuard). */
export function renderIptablesForwardGuard(plan: Pick<NatPlan, "family">): string {
  const unreachable = plan.family === 6 ? "icmp6-port-unreachable" : "icmp-port-unreachable";
  return [
    "*filter",
    ":INPUT ACCEPT [0:0]",
    ":FORWARD ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    "-A FORWARD -p tcp -j REJECT --reject-with tcp-reset",
    `-A FORWARD -j REJECT --reject-with ${unreachable}`,
    "COMMIT",
    "",
  ].join("\n");
}

/** A standby replica: the same as renderNftStandby, for iptables-restore. */
export function renderIptablesStandby(plan: NatPlan): string {
  const unreachable = plan.family === 6 ? "icmp6-port-unreachable" : "icmp-port-unreachable";
  const cluster = `-i ${plan.clusterInterface}`;
  const out: string[] = ["*nat"];
  for (const c of ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]) out.push(`:${c} ACCEPT [0:0]`);
  out.push("COMMIT", "*filter");
  for (const c of ["INPUT", "FORWARD", "OUTPUT"]) out.push(`:${c} ACCEPT [0:0]`);
  if (plan.localPorts.length > 0) {
    out.push(`-A INPUT ${cluster} -p tcp ${ports(plan.localPorts)} -j ACCEPT`);
  }
  for (const p of ["tcp", "udp", "sctp"]) {
    out.push(`-A INPUT ${cluster} -p ${p} -m conntrack --ctstate NEW -j DROP`);
  }
  out.push("-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
  out.push(`-A FORWARD ${cluster} -m conntrack --ctstate NEW -j DROP`);
  out.push("-A FORWARD -p tcp -j REJECT --reject-with tcp-reset");
  out.push(`-A FORWARD -j REJECT --reject-with ${unreachable}`);
  out.push("COMMIT");
  return `${out.join("\n")}\n`;
}

/** The whole ruleset, ready for iptables-restore (or ip6tables-restore). */
export function renderIptables(plan: NatPlan): string {
  const unreachable = plan.family === 6 ? "icmp6-port-unreachable" : "icmp-port-unreachable";
  const cluster = `-i ${plan.clusterInterface}`;
  const out: string[] = [];
  out.push("*nat");
  for (const c of ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]) out.push(`:${c} ACCEPT [0:0]`);
  for (const r of plan.dnat) {
    if (r.protocol === undefined && plan.localPorts.length > 0) {
      out.push(`-A PREROUTING ${cluster} -p tcp ${ports(plan.localPorts)} -j ACCEPT`);
    }
    const match =
      r.protocol !== undefined ? ` -p ${r.protocol} -m ${r.protocol} --dport ${r.localPort}` : "";
    // the comment lets `iptables-save -c` counters be read per rule line
    out.push(
      `-A PREROUTING ${cluster}${match} -m comment --comment "line ${r.line}" -j DNAT --to-destination ${target(plan, r)}`,
    );
  }
  if (plan.keepVrrpSource) out.push(`-A POSTROUTING -o ${plan.egressInterface} -p 112 -j ACCEPT`);
  out.push(`-A POSTROUTING -o ${plan.egressInterface} -j SNAT --to-source ${plan.source}`);
  out.push("COMMIT");

  out.push("*filter");
  for (const c of ["INPUT", "FORWARD", "OUTPUT"]) out.push(`:${c} ACCEPT [0:0]`);
  if (plan.refuseUnmapped) {
    if (plan.localPorts.length > 0) {
      out.push(`-A INPUT ${cluster} -p tcp ${ports(plan.localPorts)} -j ACCEPT`);
    }
    out.push(
      `-A INPUT ${cluster} -p tcp -m conntrack --ctstate NEW -j REJECT --reject-with tcp-reset`,
    );
    for (const p of ["udp", "sctp"]) {
      out.push(
        `-A INPUT ${cluster} -p ${p} -m conntrack --ctstate NEW -j REJECT --reject-with ${unreachable}`,
      );
    }
  }
  out.push("-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
  out.push(`-A FORWARD ${cluster} -m conntrack --ctstate DNAT -j ACCEPT`);
  out.push("-A FORWARD -p tcp -j REJECT --reject-with tcp-reset");
  out.push(`-A FORWARD -j REJECT --reject-with ${unreachable}`);
  out.push("COMMIT");
  return `${out.join("\n")}\n`;
}

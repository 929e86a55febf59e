// NatPlan → the text for `nft -f -`: one transaction that declares the tables and chains,
// flushes them and refills them, so the kernel switches from the old rules to the new ones
// at once (or, if anything is wrong, keeps the old ones untouched).
//
// Table `ip nat` (`ip6 nat`) is OpenShift's: the same `add rule` lines its image installed
// and `unit-test` prints. Table `ip egress_router` (`ip6 …`) is ours: it refuses connections
// to unmapped ports when there is no fallback, and forwards only what was redirected.
import type { DnatRule, NatPlan } from "./plan.ts";

/** The nft family of the plan's tables. */
export function nftFamily(plan: Pick<NatPlan, "family">): "ip" | "ip6" {
  return plan.family === 6 ? "ip6" : "ip";
}

export const NAT_TABLE = "nat";
export const FILTER_TABLE = "egress_router";

function quote(name: string): string {
  return JSON.stringify(name);
}

function target(plan: NatPlan, r: DnatRule): string {
  if (r.remotePort === undefined) return r.destination;
  return plan.family === 6
    ? `[${r.destination}]:${r.remotePort}`
    : `${r.destination}:${r.remotePort}`;
}

/** `iifname "eth0" tcp dport 80 dnat to 203.0.113.25` (OpenShift's exact form). */
export function nftDnatBody(plan: NatPlan, r: DnatRule): string {
  const match = r.protocol !== undefined ? ` ${r.protocol} dport ${r.localPort}` : "";
  return `iifname ${quote(plan.clusterInterface)}${match} dnat to ${target(plan, r)}`;
}

function portSet(ports: readonly number[]): string {
  return ports.length === 1 ? String(ports[0]) : `{ ${ports.join(", ")} }`;
}

function chain(name: string, type: "nat" | "filter", hook: string, priority: string): string {
  return `\tchain ${name} {\n\t\ttype ${type} hook ${hook} priority ${priority}; policy accept;\n\t}\n`;
}

/** The whole ruleset, ready for `nft -f -`. */
export function renderNft(plan: NatPlan): string {
  const fam = nftFamily(plan);
  const nat = `${fam} ${NAT_TABLE}`;
  const filter = `${fam} ${FILTER_TABLE}`;
  const cluster = quote(plan.clusterInterface);
  const out: string[] = [];
  const add = (table: string, chainName: string, body: string) =>
    out.push(`add rule ${table} ${chainName} ${body}`);

  out.push(
    `table ${nat} {\n${chain("prerouting", "nat", "prerouting", "dstnat")}${chain("postrouting", "nat", "postrouting", "srcnat")}}`,
  );
  out.push(`flush table ${nat}`);
  for (const r of plan.dnat) {
    // The router's own ports stay with the router: accepted before the fallback takes them.
    if (r.protocol === undefined && plan.localPorts.length > 0) {
      add(nat, "prerouting", `iifname ${cluster} tcp dport ${portSet(plan.localPorts)} accept`);
    }
    add(nat, "prerouting", nftDnatBody(plan, r));
  }
  if (plan.keepVrrpSource) {
    add(nat, "postrouting", `oifname ${quote(plan.egressInterface)} meta l4proto 112 accept`);
  }
  add(nat, "postrouting", `oifname ${quote(plan.egressInterface)} snat to ${plan.source}`);

  out.push(
    `table ${filter} {\n${chain("count", "filter", "prerouting", "dstnat - 10")}${chain("input", "filter", "input", "filter")}${chain("forward", "filter", "forward", "filter")}}`,
  );
  out.push(`flush table ${filter}`);
  // New connections per rule, counted just before the NAT chain sees them (`accept` ends
  // this chain only; the NAT chain still runs). `nft list table … egress_router` shows them.
  for (const r of plan.dnat) {
    if (r.protocol === undefined && plan.localPorts.length > 0) {
      add(filter, "count", `iifname ${cluster} tcp dport ${portSet(plan.localPorts)} accept`);
    }
    const match = r.protocol !== undefined ? ` ${r.protocol} dport ${r.localPort}` : "";
    add(
      filter,
      "count",
      `iifname ${cluster} ct state new${match} counter accept comment "line ${r.line}"`,
    );
  }
  if (plan.refuseUnmapped) {
    if (plan.localPorts.length > 0) {
      add(filter, "input", `iifname ${cluster} tcp dport ${portSet(plan.localPorts)} accept`);
    }
    add(
      filter,
      "input",
      `iifname ${cluster} ct state new meta l4proto tcp counter reject with tcp reset`,
    );
    add(
      filter,
      "input",
      `iifname ${cluster} ct state new meta l4proto { udp, sctp } counter reject`,
    );
  }
  add(filter, "forward", "ct state established,related accept");
  add(filter, "forward", `iifname ${cluster} ct status dnat accept`);
  add(filter, "forward", "meta l4proto tcp counter reject with tcp reset");
  add(filter, "forward", "counter reject");
  return `${out.join("\n")}\n`;
}

/**
 * Network-only modes (the proxies' init): nothing is forwarded. A pod can inherit IPv4
 * forwarding from its node; without this, a client that routes through the proxy pod
 * would leave by the egress interface with its own address.
 */
export function renderNftForwardGuard(plan: Pick<NatPlan, "family">): string {
  const filter = `${nftFamily(plan)} ${FILTER_TABLE}`;
  return [
    `table ${filter} {\n${chain("forward", "filter", "forward", "filter")}}`,
    `flush table ${filter}`,
    `add rule ${filter} forward meta l4proto tcp counter reject with tcp reset`,
    `add rule ${filter} forward counter reject`,
    "",
  ].join("\n");
}

/**
 * A standby replica of an active/standby router (docs/ha.md): no new translation, and new
 * connections from the cluster side are dropped without an answer. A client whose first
 * packet still reaches this replica (its neighbour cache or the Service's endpoints lag behind
 * a takeover) is then retried by its own TCP a second later and reaches the holder; a reset
 * or an ICMP error would fail it. Connections this replica translated while it held the
 * address go on as long as their answers still come here: a holder handing over loads these
 * rules while it still has the address, and an exchange under way then finishes instead of
 * being cut a moment before it had to. The router's own ports (the admin server: the probes)
 * stay open. One transaction, so a holder turns standby, and back, atomically.
 */
export function renderNftStandby(plan: NatPlan): string {
  const fam = nftFamily(plan);
  const nat = `${fam} ${NAT_TABLE}`;
  const filter = `${fam} ${FILTER_TABLE}`;
  const cluster = quote(plan.clusterInterface);
  // The NAT chains stay, empty: while they hook in, the kernel goes on translating the
  // connections it translated before (deleting them would stop that at once).
  const out: string[] = [
    `table ${nat} {\n${chain("prerouting", "nat", "prerouting", "dstnat")}${chain("postrouting", "nat", "postrouting", "srcnat")}}`,
    `flush table ${nat}`,
  ];
  const add = (chainName: string, body: string) =>
    out.push(`add rule ${filter} ${chainName} ${body}`);
  out.push(
    `table ${filter} {\n${chain("count", "filter", "prerouting", "dstnat - 10")}${chain("input", "filter", "input", "filter")}${chain("forward", "filter", "forward", "filter")}}`,
  );
  out.push(`flush table ${filter}`);
  if (plan.localPorts.length > 0) {
    add("input", `iifname ${cluster} tcp dport ${portSet(plan.localPorts)} accept`);
  }
  add("input", `iifname ${cluster} ct state new meta l4proto { tcp, udp, sctp } counter drop`);
  add("forward", "ct state established,related accept");
  add("forward", `iifname ${cluster} ct state new counter drop`);
  add("forward", "meta l4proto tcp counter reject with tcp reset");
  add("forward", "counter reject");
  return `${out.join("\n")}\n`;
}

/** Text for `nft -f -` that removes every table renderNft creates (used by `redirect --remove`). */
export function renderNftRemoval(plan: Pick<NatPlan, "family">): string {
  const fam = nftFamily(plan);
  // `table` first makes the delete succeed when the table does not exist (idempotent).
  return [NAT_TABLE, FILTER_TABLE]
    .map((t) => `table ${fam} ${t}\ndelete table ${fam} ${t}`)
    .join("\n")
    .concat("\n");
}

// The lab's DNS server (dnsmasq): it answers for the external services' names from a hosts
// file, and for nothing else (no upstream: a lab query never leaves the lab). The records
// can be changed while the lab runs (the file is rewritten and dnsmasq re-reads it on SIGHUP),
// which is how DNS-proxy tests exercise re-resolution.
import type { LabTopology } from "./topology.ts";

export interface DnsRecord {
  readonly name: string;
  /** IPv4 and IPv6 addresses; several make round-robin answers */
  readonly addresses: readonly string[];
}

/** The names every lab starts with. */
export function defaultDnsRecords(t: LabTopology): DnsRecord[] {
  const [e4a = "", e4b = "", e4c = ""] = t.v4.external;
  const [e6a = "", e6b = "", e6c = ""] = t.v6.external;
  return [
    { name: "api.example.com", addresses: [e4a, e6a] },
    { name: "db.example.com", addresses: [e4b, e6b] },
    { name: "www.example.com", addresses: [e4c, e6c] },
    { name: "pool.example.com", addresses: [e4a, e4b, e6a, e6b] },
    // an in-cluster address behind a public-looking name (HTTP-proxy address rules)
    { name: "internal.example.com", addresses: [t.v4.client, t.v6.client] },
    // on the outside network, but nobody has it: connects there fail (host unreachable)
    { name: "ghost.example.com", addresses: ["203.0.113.99", "2001:db8:3::99"] },
  ];
}

/** The zones the lab server answers for; a name outside them gets REFUSED. */
export const LAB_DNS_ZONES: readonly string[] = Object.freeze([
  "example.com",
  "example.net",
  "example.org",
  "test",
]);

/** Hosts-file text for the records, one `address name` line each. */
export function renderHostsFile(records: readonly DnsRecord[]): string {
  const lines = ["# egress-router lab: names of the external services"];
  for (const r of records) for (const a of r.addresses) lines.push(`${a} ${r.name}`);
  return `${lines.join("\n")}\n`;
}

/** The resolv.conf the lab gives the client and router namespaces. */
export function renderResolvConf(t: LabTopology): string {
  return `# egress-router lab\nnameserver ${t.v4.dns}\nnameserver ${t.v6.dns}\noptions timeout:1 attempts:2\n`;
}

export interface DnsmasqFiles {
  readonly hostsFile: string;
  readonly pidFile: string;
}

/** dnsmasq's argv: foreground, no config file, no upstream, answers only from the hosts file. */
export function dnsmasqArgv(t: LabTopology, files: DnsmasqFiles, ttlSeconds = 1): string[] {
  return [
    "dnsmasq",
    "--keep-in-foreground",
    "--conf-file=/dev/null",
    "--no-resolv",
    "--no-hosts",
    `--addn-hosts=${files.hostsFile}`,
    `--pid-file=${files.pidFile}`,
    "--bind-interfaces",
    `--listen-address=${t.v4.dns}`,
    `--listen-address=${t.v6.dns}`,
    `--local-ttl=${ttlSeconds}`,
    ...LAB_DNS_ZONES.map((z) => `--local=/${z}/`),
    "--log-queries",
    "--log-facility=-",
  ];
}

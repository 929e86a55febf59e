// Every setting the router reads, once. Environment variables keep their OpenShift names;
// each has a flag twin (flags win). Rule settings can also come from a file (`<NAME>_FILE`
// or `--<flag>-file`), because Kubernetes mounts ConfigMaps as files. docs/config.md
// mirrors this table; a test keeps the two in sync.

export interface SettingSpec {
  readonly env: string;
  readonly flag: string;
  /** rule text that may also come from a file (`<env>_FILE`, `--<flag>-file`) */
  readonly fromFile: boolean;
  readonly default: string | undefined;
  /** can change at run time through a reload; otherwise a change needs a restart */
  readonly reloadable: boolean;
  readonly openshift: boolean;
  readonly summary: string;
  /** `boolean` flags take no value (`--debug`); the variable is then "1" */
  readonly flagType: "string" | "boolean";
  /** validates a given value: returns "<state>; <fix>" when it is wrong */
  readonly check: ((value: string) => string | undefined) | undefined;
}

import { isIP } from "node:net";
import { parseDuration } from "./durations.ts";
import {
  addressListValue,
  checkWith,
  countValue,
  durationAtLeast,
  durationValue,
  idleTimeoutsValue,
  nameserversValue,
  ttlBoundsValue,
} from "./dns-proxy-values.ts";
import {
  parseCount,
  parseDnsServers,
  parsePortList,
  parseSwitch,
  parseWorkers,
} from "./http-proxy-values.ts";

function stateOf(r: unknown): string | undefined {
  return typeof r === "string" ? r : undefined;
}

/** Validators for `check` and start-up: each returns "<state>; <fix>" or undefined. */
export const valueChecks = {
  port: (min: number): ((v: string) => string | undefined) => {
    return (v) =>
      /^\d{1,5}$/.test(v) && Number(v) >= min && Number(v) <= 65535
        ? undefined
        : `not a port; use a number from ${min} to 65535`;
  },
  seconds: (v: string): string | undefined =>
    /^\d+(\.\d+)?$/.test(v) ? undefined : "not a number of seconds; use e.g. 30 or 0.5",
  /**
   * A timeout: seconds (30, 0.5) or a duration as the DNS proxy's settings take it (500ms,
   * 30s, 5m, 1h), and not 0 (every request would time out at once).
   */
  timeoutSeconds: (v: string): string | undefined => {
    const ms = parseDuration(v);
    if (ms === undefined) return "not a duration; use seconds (30, 0.5) or e.g. 500ms, 30s, 5m";
    return ms === 0
      ? "a timeout of 0 would fail every request; use a positive duration, e.g. 30 or 30s"
      : undefined;
  },
  address: (v: string): string | undefined =>
    isIP(v) !== 0 ? undefined : "not an IP address; use e.g. :: (all), 0.0.0.0 or 127.0.0.1",
  interfaceName: (v: string): string | undefined => {
    // Linux IFNAMSIZ is 16 including the NUL; no '/', ':' or white space.
    return /^[^\s/:]{1,15}$/.test(v) && v !== "." && v !== ".."
      ? undefined
      : "not a Linux interface name (1-15 characters, no spaces, '/' or ':')";
  },
  oneOf: (...values: string[]): ((v: string) => string | undefined) => {
    return (v) => (values.includes(v) ? undefined : `use one of: ${values.join(", ")}`);
  },
  count: (min: number, max: number): ((v: string) => string | undefined) => {
    return (v) => stateOf(parseCount(v, min, max));
  },
  portList: (v: string): string | undefined => stateOf(parsePortList(v)),
  dnsServers: (v: string): string | undefined => stateOf(parseDnsServers(v)),
  workers: (v: string): string | undefined => stateOf(parseWorkers(v)),
  switch: (v: string): string | undefined => stateOf(parseSwitch(v)),
} as const;

function setting(
  env: string,
  flag: string,
  summary: string,
  extra: Partial<Omit<SettingSpec, "env" | "flag" | "summary">> = {},
): SettingSpec {
  return Object.freeze({
    env,
    flag,
    summary,
    fromFile: extra.fromFile ?? false,
    default: extra.default,
    reloadable: extra.reloadable ?? false,
    openshift: extra.openshift ?? false,
    flagType: extra.flagType ?? "string",
    check: extra.check,
  });
}

export const settings = {
  mode: setting(
    "EGRESS_ROUTER_MODE",
    "mode",
    "Router image mode: init, legacy, http-proxy, dns-proxy or unit-test (empty: legacy).",
    { openshift: true },
  ),
  source: setting(
    "EGRESS_SOURCE",
    "source",
    "Reserved source address, A.B.C.D[/N] or an IPv6 address[/N]; without /N the interface gets a host prefix.",
    { openshift: true },
  ),
  gateway: setting(
    "EGRESS_GATEWAY",
    "gateway",
    "Next hop on the egress network, a plain address.",
    {
      openshift: true,
    },
  ),
  destination: setting(
    "EGRESS_DESTINATION",
    "destination",
    "Redirect rules: `<port> <proto> <ip> [<remote-port>]` lines and an optional final fallback `<ip>`.",
    { fromFile: true, reloadable: true, openshift: true },
  ),
  httpProxyDestination: setting(
    "EGRESS_HTTP_PROXY_DESTINATION",
    "http-proxy-destination",
    "HTTP proxy rules: host names, `*.domain`, addresses, ranges, `!` to deny, final `*` to allow the rest.",
    { fromFile: true, reloadable: true, openshift: true },
  ),
  httpProxyMode: setting(
    "EGRESS_HTTP_PROXY_MODE",
    "http-proxy-mode",
    "OpenShift's `unit-test` printed the generated Squid ACL; we print the checked rules instead, as `check` does.",
    {
      openshift: true,
      check: (v) =>
        v === "" || v === "unit-test"
          ? undefined
          : "the only mode is unit-test (prints the checked rules and exits); leave it empty to run the proxy",
    },
  ),
  dnsProxyDestination: setting(
    "EGRESS_DNS_PROXY_DESTINATION",
    "dns-proxy-destination",
    "DNS (TCP) proxy rules: `<port> <address-or-name> [<remote-port>]` lines.",
    { fromFile: true, reloadable: true, openshift: true },
  ),
  routerDebug: setting(
    "EGRESS_ROUTER_DEBUG",
    "debug",
    "Non-empty: trace every command run and write debug-level log lines.",
    { openshift: true, flagType: "boolean" },
  ),
  dnsProxyDebug: setting(
    "EGRESS_DNS_PROXY_DEBUG",
    "dns-proxy-debug",
    "Non-empty: log every DNS-proxy connection as it opens, and every name resolution.",
    { openshift: true, flagType: "boolean" },
  ),
  dnsProxyAddress: setting(
    "EGRESS_DNS_PROXY_ADDRESS",
    "dns-proxy-address",
    "Addresses the DNS proxy's ports listen on, comma-separated (:: also takes IPv4 where the host allows; falls back to 0.0.0.0 without IPv6).",
    { default: "::", check: checkWith(addressListValue) },
  ),
  dnsProxyConnectTimeout: setting(
    "EGRESS_DNS_PROXY_CONNECT_TIMEOUT",
    "dns-proxy-connect-timeout",
    "How long one connect attempt to a destination address may take (10s, 1500ms…).",
    { default: "10s", check: checkWith((v) => durationAtLeast(v, 1)) },
  ),
  dnsProxyRetries: setting(
    "EGRESS_DNS_PROXY_RETRIES",
    "dns-proxy-retries",
    "After a failed connect, how many other addresses of the destination are tried.",
    { default: "3", check: checkWith((v) => countValue(v, 0, 100)) },
  ),
  dnsProxyIdleTimeout: setting(
    "EGRESS_DNS_PROXY_IDLE_TIMEOUT",
    "dns-proxy-idle-timeout",
    "Close a connection idle this long (0: never); per port too: `1h,5432=8h,6379=0`.",
    { default: "1h", check: checkWith(idleTimeoutsValue) },
  ),
  dnsProxyKeepAlive: setting(
    "EGRESS_DNS_PROXY_KEEPALIVE",
    "dns-proxy-keepalive",
    "TCP keep-alive on both sides of every connection: first probe after this long idle (0: off).",
    { default: "60s", check: checkWith(durationValue) },
  ),
  dnsProxyMaxConnections: setting(
    "EGRESS_DNS_PROXY_MAX_CONNECTIONS",
    "dns-proxy-max-connections",
    "Connections open at once, all ports together; a connection over the limit is reset at once.",
    { default: "4000", check: checkWith((v) => countValue(v, 1, 1_000_000)) },
  ),
  dnsProxyBalance: setting(
    "EGRESS_DNS_PROXY_BALANCE",
    "dns-proxy-balance",
    "How the addresses of a name share new connections: round-robin or least-connections.",
    { default: "round-robin", check: valueChecks.oneOf("round-robin", "least-connections") },
  ),
  dnsProxyHealthCheck: setting(
    "EGRESS_DNS_PROXY_HEALTH_CHECK",
    "dns-proxy-health-check",
    "Active TCP checks of every destination address this often (0: off; a failed connect still marks an address down).",
    { default: "2s", check: checkWith(durationValue) },
  ),
  dnsProxyNameservers: setting(
    "EGRESS_DNS_PROXY_NAMESERVERS",
    "dns-proxy-nameservers",
    "DNS servers for destination names, comma-separated `ip`, `ip:port` or `[ipv6]:port` (unset: those of /etc/resolv.conf).",
    { check: checkWith(nameserversValue) },
  ),
  dnsProxyDnsTtl: setting(
    "EGRESS_DNS_PROXY_DNS_TTL",
    "dns-proxy-dns-ttl",
    "Bounds on how long a DNS answer is used before the name is resolved again: `<min>..<max>` around the answer's TTL.",
    { default: "5s..5m", check: checkWith(ttlBoundsValue) },
  ),
  dnsProxyDnsStale: setting(
    "EGRESS_DNS_PROXY_DNS_STALE",
    "dns-proxy-dns-stale",
    "While DNS fails, keep using a name's last good answer this long (then its port resets new connections).",
    { default: "1h", check: checkWith(durationValue) },
  ),
  dnsProxyAddressFamily: setting(
    "EGRESS_DNS_PROXY_ADDRESS_FAMILY",
    "dns-proxy-address-family",
    "Which addresses of a name are used: prefer-ipv4 (A records, else AAAA), prefer-ipv6, or any (both).",
    { default: "prefer-ipv4", check: valueChecks.oneOf("prefer-ipv4", "prefer-ipv6", "any") },
  ),
  dnsProxyThreads: setting(
    "EGRESS_DNS_PROXY_THREADS",
    "dns-proxy-threads",
    "Threads that accept and forward connections (0: one per CPU core).",
    { default: "0", check: checkWith((v) => countValue(v, 0, 256)) },
  ),
  egressInterface: setting(
    "EGRESS_INTERFACE",
    "interface",
    "Egress interface that carries the source address (OpenShift SDN: macvlan0; Multus: often net1).",
    { default: "macvlan0", check: valueChecks.interfaceName },
  ),
  clusterInterface: setting(
    "EGRESS_CLUSTER_INTERFACE",
    "cluster-interface",
    "Cluster-side interface where redirected traffic arrives.",
    { default: "eth0", check: valueChecks.interfaceName },
  ),
  adminAddress: setting(
    "EGRESS_ADMIN_ADDRESS",
    "admin-address",
    "Address of the admin server (metrics, health, status page); never a data port.",
    { default: "::", check: valueChecks.address },
  ),
  adminPort: setting(
    "EGRESS_ADMIN_PORT",
    "admin-port",
    "Port of the admin server; 0 turns it off.",
    {
      default: "9090",
      check: valueChecks.port(0),
    },
  ),
  httpProxyAddress: setting(
    "EGRESS_HTTP_PROXY_ADDRESS",
    "http-proxy-address",
    "Address the HTTP proxy listens on (:: also accepts IPv4 where the host allows).",
    { default: "::", check: valueChecks.address },
  ),
  httpProxyPort: setting("EGRESS_HTTP_PROXY_PORT", "http-proxy-port", "Port of the HTTP proxy.", {
    default: "8080",
    check: valueChecks.port(1),
  }),
  httpProxyConnectPorts: setting(
    "EGRESS_HTTP_PROXY_CONNECT_PORTS",
    "http-proxy-connect-ports",
    "Ports CONNECT tunnels may reach, e.g. 443,8443,10000-10100; empty: any port (as OpenShift's proxy).",
    { check: valueChecks.portList },
  ),
  httpProxyAudit: setting(
    "EGRESS_HTTP_PROXY_AUDIT",
    "http-proxy-audit",
    "Audit mode: log and count what the rules would deny (decision lines with audit: true), but allow it.",
    { flagType: "boolean", check: valueChecks.switch },
  ),
  httpProxyWorkers: setting(
    "EGRESS_HTTP_PROXY_WORKERS",
    "http-proxy-workers",
    "Proxy worker threads, each listening on the port (SO_REUSEPORT); auto: one per CPU the container may use.",
    { default: "auto", check: valueChecks.workers },
  ),
  httpProxyMaxConnections: setting(
    "EGRESS_HTTP_PROXY_MAX_CONNECTIONS",
    "http-proxy-max-connections",
    "Client connections open at once (all workers together); beyond it a connection gets 503.",
    { default: "10000", check: valueChecks.count(1, 1_000_000) },
  ),
  httpProxyMaxHeaderBytes: setting(
    "EGRESS_HTTP_PROXY_MAX_HEADER_BYTES",
    "http-proxy-max-header-bytes",
    "Largest request head (request line and headers) in bytes; a larger one gets 431.",
    { default: "32768", check: valueChecks.count(1024, 1_048_576) },
  ),
  httpProxyHeaderTimeout: setting(
    "EGRESS_HTTP_PROXY_HEADER_TIMEOUT",
    "http-proxy-header-timeout",
    "Time a client has to send a complete request head from its first byte; then 408. Seconds, or e.g. 500ms, 30s, 5m.",
    { default: "30", check: valueChecks.timeoutSeconds },
  ),
  httpProxyKeepAliveTimeout: setting(
    "EGRESS_HTTP_PROXY_KEEPALIVE_TIMEOUT",
    "http-proxy-keepalive-timeout",
    "Time an idle client connection is kept open between requests. Seconds, or e.g. 500ms, 30s, 5m.",
    { default: "60", check: valueChecks.timeoutSeconds },
  ),
  httpProxyIdleTimeout: setting(
    "EGRESS_HTTP_PROXY_IDLE_TIMEOUT",
    "http-proxy-idle-timeout",
    "Time without a byte moving during a request, a response or a CONNECT tunnel; then 408/504 or the connection is closed. Seconds, or e.g. 500ms, 30s, 5m.",
    { default: "900", check: valueChecks.timeoutSeconds },
  ),
  httpProxyConnectTimeout: setting(
    "EGRESS_HTTP_PROXY_CONNECT_TIMEOUT",
    "http-proxy-connect-timeout",
    "Time to connect to a destination (all its addresses); then 504. Seconds, or e.g. 500ms, 30s, 5m.",
    { default: "10", check: valueChecks.timeoutSeconds },
  ),
  httpProxyDnsServers: setting(
    "EGRESS_HTTP_PROXY_DNS_SERVERS",
    "http-proxy-dns-servers",
    "DNS servers the proxy asks, e.g. 10.0.0.10 or [2001:db8::53]:53; empty: the system resolver (/etc/hosts, resolv.conf search domains).",
    { check: valueChecks.dnsServers },
  ),
  httpProxyDnsTimeout: setting(
    "EGRESS_HTTP_PROXY_DNS_TIMEOUT",
    "http-proxy-dns-timeout",
    "Time a name lookup may take; then 504. Seconds, or e.g. 500ms, 30s, 5m.",
    { default: "5", check: valueChecks.timeoutSeconds },
  ),
  httpProxyDnsCacheSeconds: setting(
    "EGRESS_HTTP_PROXY_DNS_CACHE_SECONDS",
    "http-proxy-dns-cache-seconds",
    "Longest time an answer is reused (never beyond its TTL with EGRESS_HTTP_PROXY_DNS_SERVERS); 0: look up every request.",
    { default: "5", check: valueChecks.seconds },
  ),
  drainSeconds: setting(
    "EGRESS_DRAIN_SECONDS",
    "drain-seconds",
    "On SIGTERM, how long open connections may take to finish before they are closed.",
    { default: "30", check: valueChecks.seconds },
  ),
  configDir: setting(
    "EGRESS_CONFIG_DIR",
    "config-dir",
    "A directory (a mounted ConfigMap) with one file per setting, named after its variable; read after flags, variables and _FILE settings, and watched for changes.",
  ),
  logFormat: setting(
    "EGRESS_LOG_FORMAT",
    "log-format",
    "Log format: json (one JSON object a line), text (for people), or auto (text when stdout is a terminal, else json).",
    { default: "auto", check: valueChecks.oneOf("json", "text", "auto") },
  ),
  logLevel: setting(
    "EGRESS_LOG_LEVEL",
    "log-level",
    "Least important log lines written: debug, info, warn or error. EGRESS_ROUTER_DEBUG forces debug.",
    { default: "info", check: valueChecks.oneOf("debug", "info", "warn", "error") },
  ),
  natBackend: setting(
    "EGRESS_NAT_BACKEND",
    "nat-backend",
    "How redirect rules reach the kernel: nft (one atomic `nft -f -`) or iptables (iptables-restore).",
    { default: "nft", check: valueChecks.oneOf("nft", "iptables") },
  ),
  // --- high availability: active/standby routers (docs/ha.md) ---
  haElection: setting(
    "EGRESS_HA_ELECTION",
    "ha-election",
    "Active/standby election: none (one replica holds the source address) or keepalived (VRRP on the egress LAN; only the elected holder has the address and is ready).",
    { default: "none", check: valueChecks.oneOf("none", "keepalived") },
  ),
  haVrid: setting(
    "EGRESS_HA_VRID",
    "ha-vrid",
    "VRRP virtual router id, 1-255; the same on every replica of one router and unique on the egress LAN. Required with keepalived.",
  ),
  haPriority: setting(
    "EGRESS_HA_PRIORITY",
    "ha-priority",
    "VRRP priority of this replica, 1-254; the highest wins an election, ties go to the higher address.",
    { default: "100" },
  ),
  haAdvertSeconds: setting(
    "EGRESS_HA_ADVERT_SECONDS",
    "ha-advert-seconds",
    "VRRP advertisement interval, 0.01-40 s; a standby takes over after about 3 missed advertisements.",
    { default: "0.1" },
  ),
  haPeers: setting(
    "EGRESS_HA_PEERS",
    "ha-peers",
    "Other replicas' addresses on the egress LAN for unicast VRRP, comma-separated; empty: multicast (IPv6 link-local, no address needed).",
  ),
  haPreempt: setting(
    "EGRESS_HA_PREEMPT",
    "ha-preempt",
    "Non-empty: a replica with a higher priority takes the address back from a healthy holder (one more interruption); default: the holder keeps it.",
    { flagType: "boolean" },
  ),
  haClusterAddress: setting(
    "EGRESS_HA_CLUSTER_ADDRESS",
    "ha-cluster-address",
    "Optional cluster-side address[/N] on the cluster interface that moves with the holder, for networks without a Kubernetes Service (the lab, bare metal).",
  ),
  haGatewayCheckSeconds: setting(
    "EGRESS_HA_GATEWAY_CHECK_SECONDS",
    "ha-gateway-check-seconds",
    "How often the gateway is checked (ARP; IPv6: neighbour solicitation); after 3 failures in a row the replica gives up the role. 0 turns the check off.",
    { default: "1", check: valueChecks.seconds },
  ),
  haAddressLeaseSeconds: setting(
    "EGRESS_HA_ADDRESS_LEASE_SECONDS",
    "ha-address-lease-seconds",
    "The holder's addresses expire in the kernel after this long unless renewed, so a holder killed outright stops answering for them.",
    { default: "3", check: valueChecks.seconds },
  ),
  haDuplicateCheckSeconds: setting(
    "EGRESS_HA_DUPLICATE_CHECK_SECONDS",
    "ha-duplicate-check-seconds",
    "How often the holder asks the LAN (ARP; IPv6: NDP) whether another host answers for the source address (split-brain: docs/ha.md). 0 turns the check off.",
    { default: "1", check: valueChecks.seconds },
  ),
  haRunDir: setting(
    "EGRESS_HA_RUN_DIR",
    "ha-run-dir",
    "Directory for keepalived's generated configuration, pid files and event FIFO.",
    { default: "/run/egress-router/ha" },
  ),
  // --- end of high availability ---
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof settings;

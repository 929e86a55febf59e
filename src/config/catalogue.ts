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
}

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
    "OpenShift's `unit-test` printed the generated Squid ACL; use `egress-router check` instead.",
    { openshift: true },
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
    {
      openshift: true,
    },
  ),
  dnsProxyDebug: setting(
    "EGRESS_DNS_PROXY_DEBUG",
    "dns-proxy-debug",
    "Non-empty: log every DNS-proxy connection as it opens, and every name resolution.",
    { openshift: true },
  ),
  egressInterface: setting(
    "EGRESS_INTERFACE",
    "interface",
    "Egress interface that carries the source address (OpenShift SDN: macvlan0; Multus: often net1).",
    { default: "macvlan0" },
  ),
  clusterInterface: setting(
    "EGRESS_CLUSTER_INTERFACE",
    "cluster-interface",
    "Cluster-side interface where redirected traffic arrives.",
    { default: "eth0" },
  ),
  adminAddress: setting(
    "EGRESS_ADMIN_ADDRESS",
    "admin-address",
    "Address of the admin server (metrics, health, status page); never a data port.",
    { default: "::" },
  ),
  adminPort: setting(
    "EGRESS_ADMIN_PORT",
    "admin-port",
    "Port of the admin server; 0 turns it off.",
    {
      default: "9090",
    },
  ),
  httpProxyAddress: setting(
    "EGRESS_HTTP_PROXY_ADDRESS",
    "http-proxy-address",
    "Address the HTTP proxy listens on (:: also accepts IPv4 where the host allows).",
    { default: "::" },
  ),
  httpProxyPort: setting("EGRESS_HTTP_PROXY_PORT", "http-proxy-port", "Port of the HTTP proxy.", {
    default: "8080",
  }),
  drainSeconds: setting(
    "EGRESS_DRAIN_SECONDS",
    "drain-seconds",
    "On SIGTERM, how long open connections may take to finish before they are closed.",
    { default: "30" },
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
    { default: "auto" },
  ),
  logLevel: setting(
    "EGRESS_LOG_LEVEL",
    "log-level",
    "Least important log lines written: debug, info, warn or error. EGRESS_ROUTER_DEBUG forces debug.",
    { default: "info" },
  ),
  natBackend: setting(
    "EGRESS_NAT_BACKEND",
    "nat-backend",
    "How redirect rules reach the kernel: nft (one atomic `nft -f -`) or iptables (iptables-restore).",
    { default: "nft" },
  ),
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof settings;

// `egress-router dns-proxy`: the DNS (TCP) proxy, OpenShift's egress-dns-proxy image done
// again. Also what OpenShift mode runs when EGRESS_DNS_PROXY_DESTINATION is set.
import type { SettingKey } from "../config/catalogue.ts";
import { settings } from "../config/catalogue.ts";
import { ConfigError } from "../config/config-error.ts";
import type { DnsProxySettings } from "../config/dns-proxy-settings.ts";
import {
  compileDnsProxyText,
  dnsProxyOptionSettings,
  readDnsProxySettings,
  unusedIdleTimeoutPorts,
} from "../config/dns-proxy-settings.ts";
import type { Env, Flags } from "../config/read-setting.ts";
import type { ModeDefinition } from "../observe/service.ts";
import type { ForwardConfig } from "../tcp-proxy/forward-config.ts";
import { createTcpProxyService } from "../tcp-proxy/tcp-proxy-service.ts";
import type { Command } from "./command.ts";
import { runDaemon } from "./daemon.ts";
import { parseCommandArgs, settingFlagHelp } from "./flags.ts";

/** The DNS proxy for the daemon host: rule text → ForwardConfig, and the service. */
export function dnsProxyMode(s: DnsProxySettings): ModeDefinition<ForwardConfig> {
  return {
    mode: "dns-proxy",
    rulesSetting: settings.dnsProxyDestination.env,
    compile: (text) => compileDnsProxyText(text, s),
    create: (config, host) => createTcpProxyService(config, host ? { host } : {}),
    warnings: (config) => unusedIdleTimeoutPorts(s.idle.perPort, config.rules),
  };
}

/** Runs the DNS proxy until SIGTERM; resolves the exit code. Throws ConfigError on bad settings. */
export async function runDnsProxy(env: Env, flags: Flags = {}): Promise<number> {
  const read = readDnsProxySettings(env, flags);
  if (!read.settings) throw new ConfigError(read.problems);
  return runDaemon(dnsProxyMode(read.settings), {
    env,
    flags,
    fixedSettings: dnsProxyOptionSettings,
  });
}

const keys: readonly SettingKey[] = [
  "dnsProxyDestination",
  "dnsProxyAddress",
  "dnsProxyIdleTimeout",
  "dnsProxyKeepAlive",
  "dnsProxyConnectTimeout",
  "dnsProxyRetries",
  "dnsProxyMaxConnections",
  "dnsProxyBalance",
  "dnsProxyHealthCheck",
  "dnsProxyNameservers",
  "dnsProxyDnsTtl",
  "dnsProxyDnsStale",
  "dnsProxyAddressFamily",
  "dnsProxyThreads",
  "dnsProxyDebug",
  "adminAddress",
  "adminPort",
  "drainSeconds",
  "configDir",
  "logFormat",
  "logLevel",
];

export const dnsProxyCommand: Command = {
  name: "dns-proxy",
  summary: "forward local TCP ports to destinations by address or DNS name (egress-dns-proxy)",
  help: `Usage: egress-router dns-proxy [options]

Forwards each rule's local TCP port to its destination, by IP address or by DNS name, so
that connections leave from this router's source address. A name is resolved at start and
again while running (at its TTL, within bounds); every address is used, a failed address is
skipped (with backoff) and the connection retried on another, and a client whose
destination is entirely down is reset at once. Runs until SIGTERM (stop accepting, let
open connections finish for the drain time); SIGHUP or a change of the rules file
reloads the rules: new ports open, removed ports stop accepting and drain, changed
destinations apply to new connections.

Rules (EGRESS_DNS_PROXY_DESTINATION, one per line):
  <port> <address-or-name> [<remote-port>]

Examples:
  EGRESS_DNS_PROXY_DESTINATION=$'5432 db.partner.example\\n8443 203.0.113.7 443' egress-router dns-proxy
  egress-router dns-proxy --dns-proxy-destination-file /etc/egress/rules --dns-proxy-idle-timeout 8h

Settings flags (each also an environment variable; flags win):
${settingFlagHelp(keys)}
`,
  run(args, env) {
    const { flags } = parseCommandArgs("dns-proxy", args, keys);
    return runDnsProxy(env, flags);
  },
};

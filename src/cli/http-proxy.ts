// `egress-router http-proxy`: the HTTP forward proxy (OpenShift's egress-http-proxy image,
// rebuilt), run by the daemon host: admin server, logs, metrics, hot reload of the rules,
// SIGHUP, graceful SIGTERM. The OpenShift-mode dispatch calls runHttpProxyImage.
import type { SettingKey } from "../config/catalogue.ts";
import { httpProxySettingKeys, readHttpProxySettings } from "../config/http-proxy-settings.ts";
import type { Env, Flags } from "../config/read-setting.ts";
import { httpProxyMode } from "../service/http-proxy-mode.ts";
import type { Command } from "./command.ts";
import { runDaemon } from "./daemon.ts";
import { parseCommandArgs, settingFlagHelp } from "./flags.ts";

const keys: readonly SettingKey[] = [
  "httpProxyDestination",
  ...httpProxySettingKeys,
  "adminAddress",
  "adminPort",
  "drainSeconds",
  "configDir",
  "logFormat",
  "logLevel",
  "routerDebug",
  "source",
];

/** Runs the proxy until SIGTERM/SIGINT; resolves the exit code. ConfigError on bad settings. */
export async function runHttpProxy(env: Env, flags: Flags): Promise<number> {
  const s = readHttpProxySettings(env, flags);
  return runDaemon(httpProxyMode(s), { env, flags });
}

/** OpenShift mode: EGRESS_HTTP_PROXY_DESTINATION set, no sub-command (port 8080 by default). */
export function runHttpProxyImage(env: Env): Promise<number> {
  return runHttpProxy(env, {});
}

export const httpProxyCommand: Command = {
  name: "http-proxy",
  summary: "run the HTTP proxy (plain HTTP and CONNECT) with destination rules",
  help: `Usage: egress-router http-proxy [options]

An HTTP/1.1 forward proxy for workloads that must leave from the router's fixed source
address. It forwards absolute-form requests (GET http://host/path) and opens CONNECT
tunnels (HTTPS and any TCP), only to destinations the rules allow:

  www.example.com      that host name             !<rule>   the same, but deny
  *.example.com        the domain and sub-domains *         allow the rest (last line)
  203.0.113.7          that address               without a final *, the rest is denied
  203.0.113.0/24       that range                 first matching line wins

Address and range rules also judge the addresses a name resolves to; the proxy dials
only an address it checked. Refusals are answered: 403 with the deciding rule and
reason (X-Egress-Router-Error header and a one-line body), 400 for malformed requests,
502 when a name or connection fails, 504 when it times out.

Examples:
  EGRESS_HTTP_PROXY_DESTINATION=$'!*.internal.example.com\\n*.example.com' egress-router http-proxy
  egress-router http-proxy --http-proxy-destination-file /etc/egress/rules --http-proxy-port 3128
  curl -x http://router:8080 https://api.example.com/

Signals: SIGTERM/SIGINT stop accepting and drain (EGRESS_DRAIN_SECONDS); SIGHUP reloads
the rules. Metrics, health and a status page are on the admin port.

Options (each also as its variable; flags win):
${settingFlagHelp(keys)}
`,
  run(args, env) {
    const { flags } = parseCommandArgs("http-proxy", args, keys);
    return runHttpProxy(env, flags);
  },
};

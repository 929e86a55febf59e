// `egress-router redirect`: redirect mode with flags: network setup, then the NAT rules in
// one atomic load (the router image's `init`); --remove takes the rules out again.
import type { SettingKey } from "../config/catalogue.ts";
import { ConfigError } from "../config/config-error.ts";
import type { Env } from "../config/read-setting.ts";
import { readRouterConfig } from "../config/router-config.ts";
import { removeNat } from "../redirect/apply-nat.ts";
import { applyRedirect, describeRedirect, systemDeps } from "../redirect/apply-redirect.ts";
import type { Command } from "./command.ts";
import { parseCommandArgs, settingFlagHelp } from "./flags.ts";
import { redirectRequest } from "./redirect-request.ts";
import { operatorLog, runLegacy } from "./router-image.ts";

const keys: readonly SettingKey[] = [
  "source",
  "gateway",
  "destination",
  "egressInterface",
  "clusterInterface",
  "natBackend",
  "routerDebug",
  "adminAddress",
  "adminPort",
  "drainSeconds",
  "logFormat",
  "logLevel",
];

export const redirectCommand: Command = {
  name: "redirect",
  summary: "redirect mode: network setup, then NAT from the cluster side to the destinations",
  help: `Usage: egress-router redirect [options]

Redirect mode, as the OpenShift image's EGRESS_ROUTER_MODE=init: sets up the network (see
"egress-router setup"), then loads the NAT rules in one atomic step: traffic arriving on
the cluster interface is sent to the destinations of EGRESS_DESTINATION and leaves the
egress interface from the reserved source address. Without a fallback line, connections
to other ports are refused at once (TCP reset, ICMP port unreachable). Run again with new
rules to replace the old ones; if the kernel refuses the new rules the old ones stay.

EGRESS_DESTINATION lines:
  <port> <tcp|udp|sctp> <ip>                 traffic to <port> goes to the same port on <ip>
  <port> <tcp|udp|sctp> <ip> <remote-port>   ... to <remote-port> on <ip>
  <ip>                                       fallback for every other port (last line)

Options:
  --dry-run     print the commands, kernel settings and ruleset; change nothing
  --nat-only    leave the network alone; load the NAT rules only
  --no-wait     do not wait ~2 s for the second ARP announcement
  --remove      remove the router's NAT and filter rules (EGRESS_SOURCE selects the family)
  --stay        stay up, as the image's legacy mode: re-load the rules when the rules file
                changes or on SIGHUP (a refused rule set keeps the old rules and is logged),
                serve the admin port, exit 0 on SIGTERM

Settings flags (flags win over the environment):
${settingFlagHelp(keys)}

Examples:
  egress-router redirect --source 198.51.100.99 --gateway 198.51.100.1 \\
    --destination $'80 tcp 203.0.113.25\\n8080 tcp 203.0.113.26 80\\n203.0.113.27'
  egress-router redirect --destination-file /etc/egress/rules --dry-run
  nft list ruleset      # what is loaded: tables ip nat and ip egress_router
`,
  async run(args, env: Env) {
    const { flags } = parseCommandArgs("redirect", args, keys, {
      "dry-run": { type: "boolean" },
      "nat-only": { type: "boolean" },
      "no-wait": { type: "boolean" },
      remove: { type: "boolean" },
      stay: { type: "boolean" },
    });
    const remove = flags["remove"] === true;
    // --remove needs no rules: read the settings as the network-only mode does
    const { config, problems } = readRouterConfig(env, {
      ...flags,
      mode: remove ? "http-proxy" : "init",
    });
    if (!config) throw new ConfigError(problems);
    const setupNetwork = flags["nat-only"] !== true;
    const stay = flags["stay"] === true;
    const request = redirectRequest(config, env, flags, {
      nat: true,
      setupNetwork,
      adminServer: stay,
    });
    if (remove) {
      const deps = systemDeps(env, config.debug, operatorLog);
      await removeNat(config.source.family, request.backend, deps.runner);
      operatorLog(`NAT removed (${request.backend}, IPv${config.source.family})`);
      return 0;
    }
    if (flags["dry-run"] === true) {
      process.stdout.write(describeRedirect(request));
      return 0;
    }
    if (stay) return runLegacy(config, env, flags, { setupNetwork });
    const result = await applyRedirect(request, systemDeps(env, config.debug, operatorLog));
    if (flags["no-wait"] !== true) await result.network?.announced;
    return 0;
  },
};

// `egress-router setup`: network setup only, what the OpenShift image did as the init
// container of its HTTP and DNS proxies (EGRESS_ROUTER_MODE=http-proxy / dns-proxy).
import type { SettingKey } from "../config/catalogue.ts";
import { ConfigError } from "../config/config-error.ts";
import type { Env } from "../config/read-setting.ts";
import { readRouterConfig } from "../config/router-config.ts";
import { applyRedirect, describeRedirect, systemDeps } from "../redirect/apply-redirect.ts";
import type { Command } from "./command.ts";
import { parseCommandArgs, settingFlagHelp } from "./flags.ts";
import { redirectRequest } from "./redirect-request.ts";
import { operatorLog } from "./router-image.ts";

const keys: readonly SettingKey[] = [
  "source",
  "gateway",
  "egressInterface",
  "natBackend",
  "routerDebug",
];

export const setupCommand: Command = {
  name: "setup",
  summary: "put the reserved source address on the egress interface and route through the gateway",
  help: `Usage: egress-router setup [options]

Sets up the router pod's network, as the OpenShift image's init container did for its
proxies: the source address on the egress interface (brought up), a host route to the
gateway, the default route via the gateway, and a gratuitous ARP announcement, now and
again about 2 s later (IPv6: an unsolicited neighbour advertisement sent by the kernel
once duplicate address detection is over). No NAT: see "egress-router redirect". Nothing
is forwarded either (a filter rule, loaded with the NAT backend's tool), even when the pod
inherited forwarding from its node: a proxy pod is nobody's gateway.

Idempotent: when everything is in place already, nothing is changed or announced; a
setup that stopped half-way is completed. Cluster traffic keeps using the cluster
interface through its more specific routes.

Options:
  --dry-run     print the commands and kernel settings, change nothing
  --no-wait     return after the first announcement instead of sending the second one

Settings flags (flags win over the environment):
${settingFlagHelp(keys)}

Examples:
  egress-router setup --source 198.51.100.99/24 --gateway 198.51.100.1
  EGRESS_SOURCE=2001:db8:2::99 EGRESS_GATEWAY=2001:db8:2::1 egress-router setup --interface net1
`,
  async run(args, env: Env) {
    const { flags } = parseCommandArgs("setup", args, keys, {
      "dry-run": { type: "boolean" },
      "no-wait": { type: "boolean" },
    });
    const { config, problems } = readRouterConfig(env, { ...flags, mode: "http-proxy" });
    if (!config) throw new ConfigError(problems);
    const request = redirectRequest(config, env, flags, {
      nat: false,
      setupNetwork: true,
      adminServer: false,
    });
    if (flags["dry-run"] === true) {
      process.stdout.write(describeRedirect(request));
      return 0;
    }
    const result = await applyRedirect(request, systemDeps(env, config.debug, operatorLog));
    if (flags["no-wait"] !== true) await result.network?.announced;
    return 0;
  },
};

// The router image (EGRESS_ROUTER_MODE): init, legacy, http-proxy, dns-proxy, unit-test.
// Settings are checked in OpenShift's order; the first problem stops it, as it did there.
import { ConfigError } from "../config/config-error.ts";
import type { Env, Flags } from "../config/read-setting.ts";
import { readRouterConfig, type RouterConfig } from "../config/router-config.ts";
import { renderUnitTestRules } from "../redirect/render-unit-test.ts";

export async function runRouterImage(env: Env, flags: Flags = {}): Promise<number> {
  const { config, problems } = readRouterConfig(env, flags);
  if (!config) throw new ConfigError(problems);
  return runRouterMode(config, env);
}

// eslint-disable-next-line @typescript-eslint/require-await -- the other modes await network setup
export async function runRouterMode(config: RouterConfig, _env: Env): Promise<number> {
  switch (config.mode) {
    case "unit-test":
      process.stdout.write(
        renderUnitTestRules(config.source, config.rules, {
          cluster: config.clusterInterface,
          egress: config.egressInterface,
        }),
      );
      return 0;
    case "init":
    case "legacy":
    case "http-proxy":
    case "dns-proxy":
      throw new Error(
        `EGRESS_ROUTER_MODE: Cannot run mode "${config.mode}": network setup is not part of this build`,
      );
  }
}

// The router image (EGRESS_ROUTER_MODE): init, legacy, http-proxy, dns-proxy, unit-test.
// Settings are checked in OpenShift's order; the first problem stops it, as it did there.
import { ConfigError } from "../config/config-error.ts";
import type { Env, Flags } from "../config/read-setting.ts";
import { readRouterConfig, type RouterConfig } from "../config/router-config.ts";
import { renderUnitTestRules } from "../redirect/render-unit-test.ts";
import { applyRedirect, systemDeps } from "../redirect/apply-redirect.ts";
import { redirectRequest } from "./redirect-request.ts";
import { settings } from "../config/catalogue.ts";
import { publishRedirect } from "../observe/events.ts";
import { runNetworkSetup } from "../redirect/apply-network.ts";
import { legacyModeDefinition } from "../redirect/legacy-mode.ts";
import { planRedirect } from "../redirect/plan.ts";
import { runDaemon } from "./daemon.ts";

export async function runRouterImage(env: Env, flags: Flags = {}): Promise<number> {
  const { config, problems } = readRouterConfig(env, flags);
  if (!config) throw new ConfigError(problems);
  return runRouterMode(config, env, flags);
}

/** One line per change, on stdout (stderr is kept for the one-line error contract). */
export function operatorLog(line: string): void {
  process.stdout.write(`egress-router: ${line}\n`);
}

export async function runRouterMode(
  config: RouterConfig,
  env: Env,
  flags: Flags = {},
): Promise<number> {
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
    case "http-proxy":
    case "dns-proxy": {
      // init: network and NAT; the proxy modes: network only (the init container of a proxy)
      const nat = config.mode === "init";
      const request = redirectRequest(config, env, flags, {
        nat,
        setupNetwork: true,
        adminServer: false,
      });
      const result = await applyRedirect(request, systemDeps(env, config.debug, operatorLog));
      // The second announcement is part of the job: the init container ends after it.
      await result.network?.announced;
      return 0;
    }
    case "legacy":
      return runLegacy(config, env, flags);
  }
}

/**
 * legacy: network setup and NAT as in init, then stay up under the daemon host (admin
 * server, logs, metrics); the NAT rules are re-loaded atomically when EGRESS_DESTINATION's
 * file changes or on SIGHUP, and SIGTERM ends it (exit 0).
 */
export async function runLegacy(
  config: RouterConfig,
  env: Env,
  flags: Flags,
  options: { setupNetwork: boolean } = { setupNetwork: true },
): Promise<number> {
  const request = redirectRequest(config, env, flags, {
    nat: true,
    setupNetwork: options.setupNetwork,
    adminServer: true,
  });
  const log = (line: string) =>
    line.startsWith("warning: ")
      ? publishRedirect({ kind: "warning", message: line.slice("warning: ".length) })
      : publishRedirect({ kind: "change", message: line });
  const deps = systemDeps(env, config.debug, log);
  const { rules: _rules, nat: _nat, setupNetwork, ...base } = request;
  return runDaemon(legacyModeDefinition(base, deps), {
    env,
    flags,
    source: `${config.source.address}/${config.source.prefixLength}`,
    fixedSettings: [
      settings.source,
      settings.gateway,
      settings.egressInterface,
      settings.clusterInterface,
      settings.natBackend,
    ],
    prepare: async () => {
      if (!setupNetwork) return;
      const plan = planRedirect({ ...base, rules: [], nat: true });
      // the second announcement goes out in the background (its promise never rejects)
      await runNetworkSetup(plan.network, { runner: deps.runner, kernel: deps.kernel, log });
    },
  });
}

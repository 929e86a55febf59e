// RouterConfig (checked settings) → what redirect mode carries out. Shared by the router
// image's modes and the `setup` / `redirect` commands.
import { settings } from "../config/catalogue.ts";
import type { ConfigProblem } from "../config/config-error.ts";
import { ConfigError } from "../config/config-error.ts";
import type { Env, Flags } from "../config/read-setting.ts";
import { readSetting, valueProblem } from "../config/read-setting.ts";
import type { RouterConfig } from "../config/router-config.ts";
import type { NatBackend } from "../redirect/apply-nat.ts";
import type { RedirectRequest } from "../redirect/apply-redirect.ts";

function checked(
  key: "natBackend" | "adminPort",
  env: Env,
  flags: Flags,
  problems: ConfigProblem[],
): string {
  const spec = settings[key];
  const r = readSetting(spec, env, flags);
  problems.push(...r.problems);
  const value = r.setting.value ?? spec.default ?? "";
  const problem = valueProblem(spec, value);
  if (problem) problems.push(problem);
  return value;
}

export interface RequestOptions {
  /** load NAT rules (init, legacy, redirect) or not (proxy init, setup) */
  readonly nat: boolean;
  /** false: NAT only, leave the network alone */
  readonly setupNetwork: boolean;
  /** the admin server will listen on the cluster side (legacy): keep its port reachable */
  readonly adminServer: boolean;
}

/** Builds the request; throws a ConfigError with every problem. */
export function redirectRequest(
  config: RouterConfig,
  env: Env,
  flags: Flags,
  options: RequestOptions,
): RedirectRequest {
  const problems: ConfigProblem[] = [];
  const backend = checked("natBackend", env, flags, problems) as NatBackend;
  const adminPort = Number(checked("adminPort", env, flags, problems));
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    source: config.source,
    gateway: config.gateway.address,
    rules: options.nat ? config.rules : [],
    clusterInterface: config.clusterInterface,
    egressInterface: config.egressInterface,
    nat: options.nat,
    localPorts: options.adminServer && adminPort > 0 ? [adminPort] : [],
    rulesSetting: settings.destination.env,
    backend,
    setupNetwork: options.setupNetwork,
  };
}

// The router image's settings, read and checked in OpenShift's order: EGRESS_SOURCE,
// EGRESS_GATEWAY, EGRESS_ROUTER_MODE, then EGRESS_DESTINATION (only where the mode needs it).
import type { ConfigProblem } from "./config-error.ts";
import { settings } from "./catalogue.ts";
import type { ParsedAddress } from "./addresses.ts";
import { readSetting, valueProblem, type Env, type Flags } from "./read-setting.ts";
import { checkRedirectFamilies, parseRedirectRules } from "./redirect-rules.ts";
import { parseGateway, parseSource } from "./router-addresses.ts";
import { shown } from "./rule-lines.ts";
import type { RedirectRule, SourceAddress } from "./types.ts";

export const routerModes = ["init", "legacy", "http-proxy", "dns-proxy", "unit-test"] as const;
export type RouterMode = (typeof routerModes)[number];

export interface RouterConfig {
  readonly mode: RouterMode;
  readonly source: SourceAddress;
  readonly gateway: ParsedAddress;
  /** redirect rules; empty for the proxy init modes, which set up the network only */
  readonly rules: readonly RedirectRule[];
  /** where the rules came from (for messages) and the file to watch, if any */
  readonly rulesOrigin: string;
  readonly rulesFile: string | undefined;
  readonly clusterInterface: string;
  readonly egressInterface: string;
  readonly debug: boolean;
}

export function modeNeedsRules(mode: RouterMode): boolean {
  return mode === "init" || mode === "legacy" || mode === "unit-test";
}

export function readRouterConfig(
  env: Env,
  flags: Flags,
): { config: RouterConfig | undefined; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const read = (spec: (typeof settings)[keyof typeof settings]) => {
    const r = readSetting(spec, env, flags);
    problems.push(...r.problems);
    return r.setting;
  };
  const source = parseSource(read(settings.source).value);
  problems.push(...source.problems);
  const gateway = parseGateway(read(settings.gateway).value, source.value);
  problems.push(...gateway.problems);

  const modeText = read(settings.mode).value ?? "";
  const mode =
    modeText === ""
      ? "legacy"
      : (routerModes as readonly string[]).includes(modeText)
        ? (modeText as RouterMode)
        : undefined;
  if (mode === undefined) {
    problems.push({
      code: "mode-unknown",
      setting: settings.mode.env,
      openshift: `Unrecognized EGRESS_ROUTER_MODE '${modeText}'`,
      message: `EGRESS_ROUTER_MODE: Cannot run mode "${shown(modeText)}": unknown (modes are case-sensitive); use one of ${routerModes.join(", ")}, or leave it empty for legacy`,
    });
  }

  const ifaces = [settings.clusterInterface, settings.egressInterface].map((spec) => {
    const value = read(spec).value ?? "";
    const problem = valueProblem(spec, value);
    if (problem) problems.push(problem);
    return value;
  });

  let rules: readonly RedirectRule[] = [];
  const dest = read(settings.destination);
  if (mode !== undefined && modeNeedsRules(mode)) {
    const parsed = parseRedirectRules(dest.value, settings.destination.env);
    problems.push(...parsed.problems);
    rules = parsed.rules;
    if (source.value)
      problems.push(...checkRedirectFamilies(source.value, rules, settings.destination.env));
  }
  const debug = (read(settings.routerDebug).value ?? "") !== "";
  if (problems.length > 0 || !source.value || !gateway.value || mode === undefined) {
    return { config: undefined, problems };
  }
  return {
    config: Object.freeze({
      mode,
      source: source.value,
      gateway: gateway.value,
      rules,
      rulesOrigin: dest.origin,
      rulesFile: dest.file,
      clusterInterface: ifaces[0] ?? "eth0",
      egressInterface: ifaces[1] ?? "macvlan0",
      debug,
    }),
    problems,
  };
}

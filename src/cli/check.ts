// `egress-router check`: validates every EGRESS_* setting given (environment, flags, files),
// prints the normalized rules on stdout and exits 0; or prints every problem on stderr, the
// first OpenShift message as the last line, and exits 1 (spec/cli.md §3).
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ConfigProblem } from "../config/config-error.ts";
import { settings, type SettingKey, type SettingSpec } from "../config/catalogue.ts";
import { formatDnsProxyRule, parseDnsProxyRules } from "../config/dns-proxy-rules.ts";
import { httpProxyAdminClash, readAdminListener } from "../config/admin-listener.ts";
import { adminPortProblems, unusedIdleTimeoutPorts } from "../config/dns-proxy-settings.ts";
import { addressListValue, idleTimeoutsValue } from "../config/dns-proxy-values.ts";
import { formatHttpRule, parseHttpRules } from "../config/http-rules.ts";
import {
  fileEnvName,
  fileFlagName,
  readSetting,
  valueProblem,
  type Env,
  type Flags,
} from "../config/read-setting.ts";
import type { DnsProxyRule, HttpRule } from "../config/types.ts";
import { readRouterConfig } from "../config/router-config.ts";
import { formatRedirectRule, parseRedirectRules } from "../config/redirect-rules.ts";
import type { Command } from "./command.ts";
import { allSettingKeys, parseCommandArgs, settingFlagHelp } from "./flags.ts";
import { formatProblems } from "./print-problems.ts";

/** Given as a variable, a flag, a file, or a file of the config directory (a ConfigMap). */
export function isPresent(spec: SettingSpec, env: Env, flags: Flags): boolean {
  const dirFlag = flags["config-dir"];
  const dir = typeof dirFlag === "string" ? dirFlag : env["EGRESS_CONFIG_DIR"];
  return (
    env[spec.env] !== undefined ||
    flags[spec.flag] !== undefined ||
    (spec.fromFile &&
      (env[fileEnvName(spec)] !== undefined || flags[fileFlagName(spec)] !== undefined)) ||
    (dir !== undefined &&
      dir !== "" &&
      spec.env !== "EGRESS_CONFIG_DIR" &&
      existsSync(join(dir, spec.env)))
  );
}

export interface CheckReport {
  readonly output: string[];
  readonly problems: ConfigProblem[];
  readonly checked: number;
}

const routerKeys: readonly SettingKey[] = ["source", "gateway", "mode"];
/** Settings whose checks live in a grammar or the router, not in their own validator. */
const handled: ReadonlySet<SettingKey> = new Set<SettingKey>([
  ...routerKeys,
  "destination",
  "httpProxyDestination",
  "dnsProxyDestination",
  "clusterInterface",
  "egressInterface",
]);

export function checkSettings(env: Env, flags: Flags): CheckReport {
  /** A DNS proxy rule on the admin server's port, as the proxy would refuse it at start. */
  const dnsProxyAddresses = (): readonly string[] => {
    const text = readSetting(settings.dnsProxyAddress, env, flags).setting.value ?? "::";
    const parsed = addressListValue(text.trim());
    return "value" in parsed ? parsed.value : [];
  };
  const dnsProxyAdminClash = (rules: readonly DnsProxyRule[]) =>
    adminPortProblems(rules, readAdminListener(env, flags), dnsProxyAddresses());
  /** A per-port idle timeout for a port no rule listens on: a likely typo, said, not refused
   * (a reload that removes a rule must not fail for it). */
  const idlePortWarnings = (rules: readonly DnsProxyRule[]): string[] => {
    const spec = settings.dnsProxyIdleTimeout;
    const parsed = idleTimeoutsValue((readSetting(spec, env, flags).setting.value ?? "").trim());
    if (!("value" in parsed)) return [];
    return unusedIdleTimeoutPorts(parsed.value.perPort, rules).map((w) => `# warning: ${w}`);
  };
  const output: string[] = [];
  const problems: ConfigProblem[] = [];
  let checked = 0;
  const present = (key: SettingKey): boolean => isPresent(settings[key], env, flags);

  // Router image: with a source, gateway or mode, exactly as the image would check them.
  if (routerKeys.some(present)) {
    checked++;
    const { config, problems: p } = readRouterConfig(env, flags);
    problems.push(...p);
    if (config) {
      const prefix = `${config.source.address}/${config.source.prefixLength}`;
      output.push(
        `# router: mode ${config.mode}, source ${prefix} on ${config.egressInterface}, gateway ${config.gateway.address}, traffic from ${config.clusterInterface}`,
      );
      if (config.rules.length > 0 || present("destination")) {
        output.push(`# EGRESS_DESTINATION (${config.rulesOrigin}): ${config.rules.length} rule(s)`);
        output.push(...config.rules.map(formatRedirectRule));
      }
    }
  } else if (present("destination")) {
    checked++;
    const dest = readSetting(settings.destination, env, flags);
    problems.push(...dest.problems);
    const parsed = parseRedirectRules(dest.setting.value);
    problems.push(...parsed.problems);
    if (parsed.problems.length === 0 && dest.problems.length === 0) {
      output.push(
        `# EGRESS_DESTINATION (${dest.setting.origin}): ${parsed.rules.length} rule(s); EGRESS_SOURCE and EGRESS_GATEWAY not given, rules checked alone`,
      );
      output.push(...parsed.rules.map(formatRedirectRule));
    }
  }

  const grammars = [
    {
      key: "httpProxyDestination",
      parse: parseHttpRules,
      format: formatHttpRule,
      describe: (rules: readonly HttpRule[]) =>
        `, first match wins; anything else is ${rules[rules.length - 1]?.match.kind === "any" ? "allowed (final *)" : "denied (no final *)"}`,
    },
    {
      key: "dnsProxyDestination",
      parse: parseDnsProxyRules,
      format: formatDnsProxyRule,
      describe: () => "",
    },
  ] as const;
  for (const g of grammars) {
    if (!present(g.key)) continue;
    checked++;
    const spec = settings[g.key];
    const r = readSetting(spec, env, flags);
    const parsed = g.parse(r.setting.value);
    problems.push(...r.problems, ...parsed.problems);
    if (g.key === "dnsProxyDestination") {
      problems.push(...dnsProxyAdminClash(parsed.rules as readonly DnsProxyRule[]));
    } else {
      problems.push(...httpProxyAdminClash(env, flags));
    }
    if (parsed.problems.length === 0 && r.problems.length === 0) {
      const rules = parsed.rules as readonly never[];
      output.push(
        `# ${spec.env} (${r.setting.origin}): ${rules.length} rule(s)${g.describe(rules)}`,
      );
      output.push(...rules.map((rule) => g.format(rule)));
      if (g.key === "dnsProxyDestination") {
        output.push(...idlePortWarnings(parsed.rules as readonly DnsProxyRule[]));
      }
    }
  }

  for (const key of allSettingKeys) {
    const spec = settings[key];
    if (handled.has(key) || !present(key)) continue;
    checked++;
    const r = readSetting(spec, env, flags);
    problems.push(...r.problems);
    const value = r.setting.value ?? "";
    const problem = valueProblem(spec, value);
    if (problem) {
      problems.push(problem);
    } else if (r.problems.length === 0) {
      output.push(`# ${spec.env}=${value}`);
    }
  }
  return { output, problems, checked };
}

export const checkCommand: Command = {
  name: "check",
  summary: "validate every EGRESS_* setting given and print the normalized rules",
  help: `Usage: egress-router check [settings flags]

Validates every EGRESS_* setting present in the environment, in flags or in files, the
way the router would at start-up, and prints the normalized rules on stdout (exit 0).
On bad input it prints every problem found, each naming the setting, the line and the
fix, then the first problem's message as the OpenShift image printed it as the last
line of stderr, and exits 1. Flags win over the environment.

Examples:
  EGRESS_HTTP_PROXY_DESTINATION=$'*.example.com\\n!203.0.113.0/24\\n*' egress-router check
  egress-router check --source 198.51.100.99 --gateway 198.51.100.1 --destination-file rules.txt

Settings flags:
${settingFlagHelp(allSettingKeys)}
`,
  run(args, env) {
    const { flags } = parseCommandArgs("check", args, allSettingKeys);
    const report = checkSettings(env, flags);
    if (report.checked === 0) {
      process.stderr.write(
        "egress-router check: no EGRESS_* setting given; set the variables you want checked or pass them as flags (see --help)\n",
      );
      return Promise.resolve(2);
    }
    if (report.problems.length > 0) {
      process.stderr.write(
        formatProblems(report.problems)
          .map((l) => `${l}\n`)
          .join(""),
      );
      return Promise.resolve(1);
    }
    process.stdout.write(report.output.map((l) => `${l}\n`).join(""));
    return Promise.resolve(0);
  },
};

// OpenShift mode (spec/cli.md §2): no sub-command; the EGRESS_* variables select which
// original image we act as. Errors are one line on stderr (the OpenShift text where the
// original had one) and exit 1, as the images' own tests expect.
import { ConfigError } from "../config/config-error.ts";
import { settings } from "../config/catalogue.ts";
import type { Env } from "../config/read-setting.ts";
import { parseHttpRules, formatHttpRule } from "../config/http-rules.ts";
import { readSetting } from "../config/read-setting.ts";
import { runDnsProxy } from "./dns-proxy.ts";
import { runHttpProxyImage } from "./http-proxy.ts";
import { runRouterImage } from "./router-image.ts";

export type OpenShiftImage = "router" | "http-proxy" | "dns-proxy" | "legacy" | "none";

function isSet(env: Env, spec: { env: string }, withFile: boolean): boolean {
  return env[spec.env] !== undefined || (withFile && env[`${spec.env}_FILE`] !== undefined);
}

/** Which image the environment selects, in the order spec/cli.md gives. */
export function selectImage(env: Env): OpenShiftImage {
  if (env[settings.mode.env] !== undefined) return "router";
  if (isSet(env, settings.httpProxyDestination, true)) return "http-proxy";
  if (isSet(env, settings.dnsProxyDestination, true)) return "dns-proxy";
  if (isSet(env, settings.source, false)) return "legacy";
  return "none";
}

export async function runOpenShiftMode(env: Env): Promise<number> {
  try {
    switch (selectImage(env)) {
      case "router":
      case "legacy":
        return await runRouterImage(env);
      case "http-proxy":
        if ((env[settings.httpProxyMode.env] ?? "") === "unit-test")
          return printCheckedHttpRules(env);
        return await runHttpProxyImage(env);
      case "dns-proxy":
        return await runDnsProxy(env);
      case "none": {
        const { usage } = await import("./main.ts");
        process.stderr.write(usage());
        return 2;
      }
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      const first = err.problems[0];
      process.stderr.write(`${first?.openshift ?? first?.message ?? err.message}\n`);
      return 1;
    }
    throw err;
  }
}

/** EGRESS_HTTP_PROXY_MODE=unit-test: upstream printed its Squid ACL; we print the checked rules. */
function printCheckedHttpRules(env: Env): number {
  const r = readSetting(settings.httpProxyDestination, env, {});
  const parsed = parseHttpRules(r.setting.value);
  const problems = [...r.problems, ...parsed.problems];
  if (problems.length > 0) throw new ConfigError(problems);
  process.stdout.write(parsed.rules.map((rule) => `${formatHttpRule(rule)}\n`).join(""));
  return 0;
}

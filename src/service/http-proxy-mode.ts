// The HTTP proxy as the daemon host sees it: compile (rule text → frozen policy, pure) and
// create (a Service that runs it). Settings other than the rules are read once at start.
import { ConfigError } from "../config/config-error.ts";
import type { HttpProxySettings } from "../config/http-proxy-settings.ts";
import { parseHttpRules } from "../config/http-rules.ts";
import type { ModeDefinition } from "../observe/service.ts";
import { compileHttpPolicy, type HttpPolicy } from "../policy/http-policy.ts";
import { createHttpProxyService } from "./http-proxy-service.ts";

/** Rule text → policy; every problem at once as a ConfigError. */
export function compileHttpProxyRules(
  text: string,
  s: Pick<HttpProxySettings, "connectPorts">,
): HttpPolicy {
  const parsed = parseHttpRules(text);
  if (parsed.problems.length > 0) throw new ConfigError(parsed.problems);
  return compileHttpPolicy(parsed.rules, { connectPorts: s.connectPorts });
}

export function httpProxyMode(s: HttpProxySettings): ModeDefinition<HttpPolicy> {
  return {
    mode: "http-proxy",
    rulesSetting: "EGRESS_HTTP_PROXY_DESTINATION",
    compile: (text) => compileHttpProxyRules(text, s),
    create: (policy, host) => createHttpProxyService(s, policy, host),
  };
}

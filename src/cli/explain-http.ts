// The HTTP branch of `explain`: what the rules do with a destination, the way the proxy
// would decide it — canonical host first, then the name rules, then (for a name) every
// address it resolves to, with the CONNECT port list when a port is given.
import { ConfigError } from "../config/config-error.ts";
import { settings } from "../config/catalogue.ts";
import { parseDnsServers, parsePortList } from "../config/http-proxy-values.ts";
import { parseHttpRules } from "../config/http-rules.ts";
import { readSetting, type Env, type Flags } from "../config/read-setting.ts";
import { createResolver, ResolveError } from "../net/resolver.ts";
import { canonicalHost, describeHostProblem, hostForAuthority } from "../policy/canonical-host.ts";
import { decide, decideName } from "../policy/decide.ts";
import { describeDecision, type Decision } from "../policy/decision.ts";
import { compileHttpPolicy } from "../policy/http-policy.ts";

const RESOLVE_TIMEOUT_MS = 3000;

/** `host`, `host:port`, `[v6]` or `[v6]:port`, or a bare IPv6 address. */
function splitQuery(query: string): { host: string; port: number | undefined } | string {
  const v6 = /^\[([^\]]*)\](?::(\d+))?$/.exec(query);
  if (v6) return { host: `[${v6[1] ?? ""}]`, port: v6[2] === undefined ? undefined : +v6[2] };
  const colons = query.split(":").length - 1;
  if (colons === 1) {
    const [host = "", port = ""] = query.split(":");
    if (!/^\d{1,5}$/.test(port) || +port < 1 || +port > 65535) {
      return `"${port}" is not a port; use e.g. api.example.com:443`;
    }
    return { host, port: +port };
  }
  return { host: query, port: undefined };
}

function verdict(d: Decision): string {
  return d.action === "allow" ? "allowed" : "denied";
}

export async function explainHttp(
  text: string | undefined,
  query: string,
  env: Env,
  flags: Flags = {},
): Promise<string[]> {
  const parsed = parseHttpRules(text);
  const portsText = readSetting(settings.httpProxyConnectPorts, env, flags).setting.value ?? "";
  const ports = parsePortList(portsText);
  const serversText = readSetting(settings.httpProxyDnsServers, env, flags).setting.value ?? "";
  const servers = parseDnsServers(serversText);
  const problems = [...parsed.problems];
  for (const [key, value, r] of [
    ["httpProxyConnectPorts", portsText, ports],
    ["httpProxyDnsServers", serversText, servers],
  ] as const) {
    if (typeof r === "string") {
      const env = settings[key].env;
      problems.push({
        code: "setting-invalid",
        setting: env,
        message: `${env}: Cannot use "${value}": ${r}`,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const connectPorts = typeof ports === "string" || ports.length === 0 ? undefined : ports;
  const policy = compileHttpPolicy(parsed.rules, { connectPorts });

  const q = splitQuery(query.trim());
  if (typeof q === "string") return [`http-proxy: Cannot explain "${query}": ${q}`];
  const host = canonicalHost(q.host);
  if (typeof host === "string") {
    return [
      `http-proxy: "${query}" would get 400: ${describeHostProblem(host)} (the proxy refuses it before any rule)`,
    ];
  }
  const shown = hostForAuthority(host);
  const port = q.port ?? (connectPorts ? 443 : 80);
  const dest = q.port === undefined ? shown : `${shown}:${port}`;
  // With a port, judge it as a CONNECT too (the port list applies to tunnels only).
  const target = { host, port, connect: q.port !== undefined };
  const out: string[] = [];
  if (shown !== q.host) out.push(`http-proxy: "${q.host}" is read as ${shown}`);
  if (host.kind === "address") {
    const d = decide(policy, target);
    out.push(`http-proxy: ${dest} is ${verdict(d)}: ${describeDecision(d)}`);
    return out;
  }
  const early = decideName(policy, target);
  if (early !== undefined) {
    out.push(
      `http-proxy: ${dest} is ${verdict(early)}: ${describeDecision(early)} (the name is not even looked up)`,
    );
    return out;
  }
  const resolver = createResolver({
    servers: typeof servers === "string" ? [] : servers,
    cacheMs: 0,
    timeoutMs: RESOLVE_TIMEOUT_MS,
  });
  try {
    const addresses = await resolver.resolve(host.name);
    const d = decide(policy, target, addresses);
    out.push(`http-proxy: ${dest} is ${verdict(d)}: ${describeDecision(d)}`);
    out.push(`http-proxy: ${host.name} resolves to ${addresses.join(", ")}`);
  } catch (err) {
    const code = err instanceof ResolveError ? err.code : String(err);
    const d = decide(policy, target);
    out.push(
      `http-proxy: ${dest} would be ${verdict(d)} by name: ${describeDecision(d)}; but ${host.name} does not resolve here (${code}): the proxy would answer 502, and address rules could not be checked`,
    );
  }
  return out;
}

// `egress-router explain <destination>`: what the configured rules do with a destination.
//   redirect rules:  explain 80 | 80/udp | udp/80   -> where that local port goes
//   DNS proxy rules: explain 5432                   -> where that port forwards
//   HTTP rules:      explain api.example.com[:443]  -> allow/deny, the deciding line and why
import { ConfigError } from "../config/config-error.ts";
import { settings } from "../config/catalogue.ts";
import { parseDnsProxyRules } from "../config/dns-proxy-rules.ts";
import { readSetting, type Env, type Flags } from "../config/read-setting.ts";
import { parseRedirectRules } from "../config/redirect-rules.ts";
import { parsePort } from "../config/rule-lines.ts";
import type { DnsProxyRule, Protocol, RedirectRule } from "../config/types.ts";
import { UsageError, type Command } from "./command.ts";
import { isPresent } from "./check.ts";
import { explainHttp } from "./explain-http.ts";
import { parseCommandArgs, settingFlagHelp } from "./flags.ts";

const keys = ["destination", "httpProxyDestination", "dnsProxyDestination"] as const;
/** The other settings an answer depends on: where the rules may live, how names resolve. */
const explainSettings = [
  "configDir",
  "httpProxyConnectPorts",
  "httpProxyDnsServers",
  "dnsProxyNameservers",
  "dnsProxyAddressFamily",
  "dnsProxyDnsTtl",
] as const;

/** `80`, `80/udp` or `udp/80`; protocol undefined when not given. */
export function parsePortQuery(
  text: string,
): { port: number; protocol: Protocol | undefined } | undefined {
  const m = /^(?:(tcp|udp|sctp)\/)?(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(text);
  const port = m?.[2] === undefined ? undefined : parsePort(m[2]);
  if (!m || port === undefined || (m[1] && m[3])) return undefined;
  const proto = (m[1] ?? m[3])?.toLowerCase() as Protocol | undefined;
  return { port, protocol: proto };
}

export function explainRedirect(rules: readonly RedirectRule[], query: string): string {
  const q = parsePortQuery(query);
  if (!q)
    return `redirect: "${query}" is not a local port; ask e.g. "explain 80" or "explain 53/udp"`;
  const protoText = q.protocol ?? "tcp";
  const rule = rules.find((r) => r.kind === "port" && r.localPort === q.port);
  const fallback = rules.find((r) => r.kind === "fallback");
  if (rule?.kind === "port" && (q.protocol === undefined || q.protocol === rule.protocol)) {
    const to = rule.family === 6 ? `[${rule.destination}]` : rule.destination;
    return `redirect: ${rule.protocol} port ${q.port} goes to ${to}:${rule.remotePort ?? q.port} (EGRESS_DESTINATION line ${rule.line})`;
  }
  const other =
    rule?.kind === "port"
      ? ` (line ${rule.line} maps port ${q.port} for ${rule.protocol} only)`
      : "";
  if (fallback) {
    const to = fallback.family === 6 ? `[${fallback.destination}]` : fallback.destination;
    return `redirect: ${protoText} port ${q.port} goes to ${to}:${q.port} by the fallback (EGRESS_DESTINATION line ${fallback.line})${other}`;
  }
  return `redirect: ${protoText} port ${q.port} is refused: no rule maps it and there is no fallback${other}`;
}

export function explainDnsProxy(rules: readonly DnsProxyRule[], query: string): string {
  const q = parsePortQuery(query);
  if (!q) return `dns-proxy: "${query}" is not a local port; ask e.g. "explain 5432"`;
  const rule = rules.find((r) => r.localPort === q.port);
  if (!rule)
    return `dns-proxy: port ${q.port} has no listener (no EGRESS_DNS_PROXY_DESTINATION line uses it)`;
  if (rule.target.kind === "address") {
    const to = rule.target.family === 6 ? `[${rule.target.address}]` : rule.target.address;
    return `dns-proxy: port ${q.port} forwards to ${to}:${rule.remotePort} (EGRESS_DNS_PROXY_DESTINATION line ${rule.line})`;
  }
  return `dns-proxy: port ${q.port} forwards to ${rule.target.name}:${rule.remotePort}, every address the name resolves to, re-resolved while running (EGRESS_DNS_PROXY_DESTINATION line ${rule.line})`;
}

export async function explain(env: Env, flags: Flags, query: string): Promise<string[]> {
  const out: string[] = [];
  const read = (key: (typeof keys)[number]) => {
    const r = readSetting(settings[key], env, flags);
    if (r.problems.length > 0) throw new ConfigError(r.problems);
    return r.setting.value;
  };
  const given = keys.filter((k) => isPresent(settings[k], env, flags));
  if (given.length === 0) {
    throw new UsageError(
      "egress-router explain: no rules given; set EGRESS_DESTINATION, EGRESS_HTTP_PROXY_DESTINATION or EGRESS_DNS_PROXY_DESTINATION (or their flags or files)",
    );
  }
  for (const key of given) {
    if (key === "destination") {
      const p = parseRedirectRules(read(key));
      if (p.problems.length > 0) throw new ConfigError(p.problems);
      out.push(explainRedirect(p.rules, query));
    } else if (key === "dnsProxyDestination") {
      const p = parseDnsProxyRules(read(key));
      if (p.problems.length > 0) throw new ConfigError(p.problems);
      out.push(explainDnsProxy(p.rules, query));
      if (flags["resolve"] === true) {
        const { explainDnsProxyResolution } = await import("./explain-dns-proxy.ts");
        out.push(...(await explainDnsProxyResolution(p.rules, query, env, flags)));
      }
    } else {
      out.push(...(await explainHttp(read(key), query, env, flags)));
    }
  }
  return out;
}

export const explainCommand: Command = {
  name: "explain",
  summary: "show what the configured rules do with a destination or port",
  help: `Usage: egress-router explain <destination> [settings flags]

Answers, for the rules given (environment, flags or files), what happens to a destination:
  HTTP proxy rules   explain api.example.com | explain 203.0.113.7:443
                     allow or deny, the rule line that decided, and why
  redirect rules     explain 80 | explain 53/udp
                     where traffic to that local port goes (or that it is refused)
  DNS proxy rules    explain 5432 [--resolve]
                     where that port forwards; --resolve also asks DNS what its name
                     resolves to now (with the DNS proxy's servers and address family)

Settings flags:
${settingFlagHelp([...keys, ...explainSettings])}
`,
  async run(args, env) {
    const { flags, positionals } = parseCommandArgs(
      "explain",
      args,
      [...keys, ...explainSettings],
      { resolve: { type: "boolean" } },
      true,
    );
    if (positionals.length !== 1) {
      throw new UsageError(
        "egress-router explain: give exactly one destination, e.g. egress-router explain api.example.com:443",
      );
    }
    const lines = await explain(env, flags, positionals[0] ?? "");
    process.stdout.write(lines.map((l) => `${l}\n`).join(""));
    return 0;
  },
};

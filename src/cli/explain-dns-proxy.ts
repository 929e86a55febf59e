// `egress-router explain <port> --resolve` for DNS proxy rules: what the port's name resolves
// to now, asked the way the proxy asks (its DNS servers and address family). Opt-in, since
// it sends a DNS query.
import { ConfigError } from "../config/config-error.ts";
import { readDnsProxySettings } from "../config/dns-proxy-settings.ts";
import type { Env, Flags } from "../config/read-setting.ts";
import type { DnsProxyRule } from "../config/types.ts";
import { createLookup } from "../tcp-proxy/lookup-name.ts";
import { parsePortQuery } from "./explain.ts";

export async function explainDnsProxyResolution(
  rules: readonly DnsProxyRule[],
  query: string,
  env: Env,
  flags: Flags,
): Promise<string[]> {
  const q = parsePortQuery(query);
  const rule = q === undefined ? undefined : rules.find((r) => r.localPort === q.port);
  if (rule === undefined || rule.target.kind !== "name") return [];
  const read = readDnsProxySettings(env, flags);
  if (!read.settings) throw new ConfigError(read.problems);
  const resolver = read.settings.options.resolver;
  const servers = resolver.servers?.join(", ") ?? "the servers of /etc/resolv.conf";
  const name = rule.target.name;
  try {
    const answer = await createLookup(resolver)(name);
    const ttl =
      answer.ttlSeconds === undefined ? "no TTL: system resolver" : `TTL ${answer.ttlSeconds} s`;
    return [
      `dns-proxy: ${name} resolves now to ${answer.addresses.join(", ")} (${ttl}; ${resolver.family}; asked ${servers}); new connections use each in turn`,
    ];
  } catch (err) {
    return [
      `dns-proxy: ${name} does not resolve now: ${(err as Error).message} (asked ${servers}); a running proxy keeps its last good answer for a while and retries`,
    ];
  }
}

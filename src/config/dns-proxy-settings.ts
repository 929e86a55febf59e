// The DNS proxy's settings (catalogue entries EGRESS_DNS_PROXY_*) read into the options the
// forwarders run with, and the compile step rule text → ForwardConfig the daemon host calls
// at start and on every reload.
import { availableParallelism } from "node:os";
import type {
  Balance,
  FamilyPreference,
  ForwardConfig,
  ForwardOptions,
  ForwardRule,
} from "../tcp-proxy/forward-config.ts";
import { defaultForwardOptions } from "../tcp-proxy/forward-config.ts";
import type { SettingSpec } from "./catalogue.ts";
import { settings } from "./catalogue.ts";
import type { ConfigProblem } from "./config-error.ts";
import { ConfigError } from "./config-error.ts";
import { parseDnsProxyRules } from "./dns-proxy-rules.ts";
import type { IdleTimeouts, Parsed } from "./dns-proxy-values.ts";
import {
  addressListValue,
  countValue,
  durationAtLeast,
  durationValue,
  idleTimeoutsValue,
  nameserversValue,
  ttlBoundsValue,
} from "./dns-proxy-values.ts";
import type { Env, Flags } from "./read-setting.ts";
import { readSetting } from "./read-setting.ts";
import { overlaps, readAdminListener, type AdminListener } from "./admin-listener.ts";
import { shown } from "./rule-lines.ts";
import type { DnsProxyRule } from "./types.ts";

export interface DnsProxySettings {
  readonly options: ForwardOptions;
  readonly idle: IdleTimeouts;
  /** where the admin server listens (port 0: off), so that no rule is given its port */
  readonly admin?: AdminListener | undefined;
}

/**
 * A rule whose port the admin server listens on would fail at start or reload with "port in
 * use". OpenShift's image had no admin server, so such a rule is a likely surprise: say so,
 * naming both settings and the way out.
 */
export function adminPortProblems(
  rules: readonly DnsProxyRule[],
  admin: AdminListener | undefined,
  listenAddresses: readonly string[],
): ConfigProblem[] {
  if (admin === undefined) return [];
  if (!listenAddresses.some((a) => overlaps(a, admin.address))) return [];
  return rules
    .filter((r) => r.localPort === admin.port)
    .map((r) => ({
      code: "port-duplicate",
      setting: settings.dnsProxyDestination.env,
      line: r.line,
      message: `${settings.dnsProxyDestination.env} line ${r.line}: Cannot listen on port ${r.localPort}: the admin server (metrics, health) listens there (${settings.adminPort.env}=${admin.port}); set ${settings.adminPort.env} to another port (0 turns it off), or use another local port`,
    }));
}

/** Every setting of the DNS proxy other than its rules (read once: a change needs a restart). */
export const dnsProxyOptionSettings: readonly SettingSpec[] = [
  settings.dnsProxyAddress,
  settings.dnsProxyConnectTimeout,
  settings.dnsProxyRetries,
  settings.dnsProxyIdleTimeout,
  settings.dnsProxyKeepAlive,
  settings.dnsProxyMaxConnections,
  settings.dnsProxyBalance,
  settings.dnsProxyHealthCheck,
  settings.dnsProxyNameservers,
  settings.dnsProxyDnsTtl,
  settings.dnsProxyDnsStale,
  settings.dnsProxyAddressFamily,
  settings.dnsProxyThreads,
];

export function readDnsProxySettings(
  env: Env,
  flags: Flags,
): { settings: DnsProxySettings | undefined; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const read = <T>(spec: SettingSpec, parse: (text: string) => Parsed<T>, fallback: T): T => {
    const r = readSetting(spec, env, flags);
    problems.push(...r.problems);
    const text = r.setting.value;
    if (text === undefined) return fallback;
    const parsed = parse(text.trim());
    if ("value" in parsed) return parsed.value;
    problems.push({
      code: "setting-invalid",
      setting: spec.env,
      message: `${spec.env}: Cannot use "${shown(text)}": ${parsed.hint}`,
    });
    return fallback;
  };
  const d = defaultForwardOptions;
  const oneOf =
    <T extends string>(...values: T[]) =>
    (text: string): Parsed<T> =>
      values.includes(text as T)
        ? { value: text as T }
        : { hint: `not one of ${values.join(", ")}; use one of them` };

  const listenAddresses = read(settings.dnsProxyAddress, addressListValue, [...d.listenAddresses]);
  const connectTimeoutMs = read(
    settings.dnsProxyConnectTimeout,
    (v) => durationAtLeast(v, 1),
    d.connectTimeoutMs,
  );
  const retries = read(settings.dnsProxyRetries, (v) => countValue(v, 0, 100), d.retries);
  const idle = read(settings.dnsProxyIdleTimeout, idleTimeoutsValue, {
    defaultMs: 3_600_000,
    perPort: new Map<number, number>(),
  });
  const keepAliveMs = read(settings.dnsProxyKeepAlive, durationValue, d.keepAliveMs);
  const maxConnections = read(
    settings.dnsProxyMaxConnections,
    (v) => countValue(v, 1, 1_000_000),
    d.maxConnections,
  );
  const balance = read<Balance>(
    settings.dnsProxyBalance,
    oneOf("round-robin", "least-connections"),
    d.balance,
  );
  const checkMs = read(settings.dnsProxyHealthCheck, durationValue, d.healthCheck.intervalMs);
  const servers = read<string[] | undefined>(
    settings.dnsProxyNameservers,
    nameserversValue,
    undefined,
  );
  const ttl = read(settings.dnsProxyDnsTtl, ttlBoundsValue, {
    minMs: d.resolver.minTtlMs,
    maxMs: d.resolver.maxTtlMs,
  });
  const staleMs = read(settings.dnsProxyDnsStale, durationValue, d.resolver.staleMs);
  const family = read<FamilyPreference>(
    settings.dnsProxyAddressFamily,
    oneOf("prefer-ipv4", "prefer-ipv6", "any"),
    d.resolver.family,
  );
  const threads = read(settings.dnsProxyThreads, (v) => countValue(v, 0, 256), 0);
  if (problems.length > 0) return { settings: undefined, problems };
  const options: ForwardOptions = {
    ...d,
    listenAddresses,
    connectTimeoutMs,
    retries,
    maxConnections,
    keepAliveMs,
    balance,
    healthCheck: {
      ...d.healthCheck,
      intervalMs: checkMs,
      // A check may take as long as a connect, but not longer than the interval.
      timeoutMs: Math.min(connectTimeoutMs, Math.max(checkMs, 1000)),
    },
    resolver: { ...d.resolver, servers, minTtlMs: ttl.minMs, maxTtlMs: ttl.maxMs, staleMs, family },
    threads: threads === 0 ? availableParallelism() : threads,
  };
  return { settings: { options, idle, admin: readAdminListener(env, flags) }, problems };
}

/**
 * Per-port idle timeouts for ports no rule listens on: a likely typo (5423=8h for 5432), said
 * by `check` and in the log at start and on every reload, never refused (a reload that
 * removes a rule must not fail for its timeout).
 */
export function unusedIdleTimeoutPorts(
  perPort: ReadonlyMap<number, number>,
  rules: readonly { readonly localPort: number }[],
): string[] {
  const used = new Set(rules.map((r) => r.localPort));
  return [...perPort.keys()]
    .filter((port) => !used.has(port))
    .map(
      (port) =>
        `${settings.dnsProxyIdleTimeout.env} sets a timeout for port ${port}, which no ${settings.dnsProxyDestination.env} line listens on; it has no effect (a typo?)`,
    );
}

/** The rules with their per-port settings, and the options: what the service runs. */
export function compileDnsProxyConfig(
  rules: readonly DnsProxyRule[],
  s: DnsProxySettings,
): ForwardConfig {
  const forward: ForwardRule[] = rules.map((r) =>
    Object.freeze({
      line: r.line,
      text: r.text,
      localPort: r.localPort,
      target: r.target,
      remotePort: r.remotePort,
      idleTimeoutMs: s.idle.perPort.get(r.localPort) ?? s.idle.defaultMs,
    }),
  );
  return Object.freeze({ rules: Object.freeze(forward), options: s.options });
}

/** Rule text → ForwardConfig, or a ConfigError with every problem (the reload contract). */
export function compileDnsProxyText(text: string, s: DnsProxySettings): ForwardConfig {
  const parsed = parseDnsProxyRules(text);
  const problems = [
    ...parsed.problems,
    ...adminPortProblems(parsed.rules, s.admin, s.options.listenAddresses),
  ];
  if (problems.length > 0) throw new ConfigError(problems);
  return compileDnsProxyConfig(parsed.rules, s);
}

// The HTTP proxy's settings (everything but its rules), read once at start from flags,
// environment and the catalogue's defaults into one typed, frozen value; every problem is
// collected so the operator sees them all at once.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { PortRange } from "../policy/http-policy.ts";
import { httpProxyAdminClash } from "./admin-listener.ts";
import { settings, type SettingKey } from "./catalogue.ts";
import { ConfigError, type ConfigProblem } from "./config-error.ts";
import {
  parseCount,
  parseDnsServers,
  parsePortList,
  parseSwitch,
  parseWorkers,
} from "./http-proxy-values.ts";
import { readSetting, type Env, type Flags } from "./read-setting.ts";
import { shown } from "./rule-lines.ts";
import { parseDuration } from "./durations.ts";

export interface HttpProxySettings {
  readonly address: string;
  readonly port: number;
  /** undefined: CONNECT may reach any port */
  readonly connectPorts: readonly PortRange[] | undefined;
  readonly audit: boolean;
  readonly workers: number;
  readonly maxConnections: number;
  readonly maxHeaderBytes: number;
  readonly headerTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** empty: the system resolver */
  readonly dnsServers: readonly string[];
  readonly dnsTimeoutMs: number;
  readonly dnsCacheMs: number;
}

/** The settings this file reads (for flags and help). */
export const httpProxySettingKeys = [
  "httpProxyAddress",
  "httpProxyPort",
  "httpProxyConnectPorts",
  "httpProxyAudit",
  "httpProxyWorkers",
  "httpProxyMaxConnections",
  "httpProxyMaxHeaderBytes",
  "httpProxyHeaderTimeout",
  "httpProxyKeepAliveTimeout",
  "httpProxyIdleTimeout",
  "httpProxyConnectTimeout",
  "httpProxyDnsServers",
  "httpProxyDnsTimeout",
  "httpProxyDnsCacheSeconds",
] as const satisfies readonly SettingKey[];

/**
 * CPUs this process may use: the CPU affinity node reports, lowered to the cgroup v2 quota
 * (`cpu.max`, what a Kubernetes CPU limit becomes), rounded up, at least 1.
 */
export function usableCpus(cpuMaxFile = "/sys/fs/cgroup/cpu.max"): number {
  let cpus = availableParallelism();
  try {
    const [quota, period] = readFileSync(cpuMaxFile, "utf8").trim().split(/\s+/);
    if (quota !== undefined && quota !== "max" && Number(period) > 0) {
      cpus = Math.min(cpus, Math.ceil(Number(quota) / Number(period)));
    }
  } catch {
    // no cgroup v2 file: affinity alone
  }
  return Math.max(1, cpus);
}

export function readHttpProxySettings(env: Env, flags: Flags): HttpProxySettings {
  const problems: ConfigProblem[] = [];
  const get = (key: SettingKey): string => {
    const r = readSetting(settings[key], env, flags);
    problems.push(...r.problems);
    return (r.setting.value ?? "").trim();
  };
  const fail = (key: SettingKey, value: string, state: string) => {
    problems.push({
      code: "setting-invalid",
      setting: settings[key].env,
      message: `${settings[key].env}: Cannot use "${shown(value)}": ${state}`,
    });
  };
  function checked<T>(key: SettingKey, parse: (v: string) => T | string, fallback: T): T {
    const value = get(key);
    const r = parse(value);
    if (typeof r === "string") {
      fail(key, value, r);
      return fallback;
    }
    return r;
  }
  // The catalogue's check (the one `check` runs) says which values are refused, 0 included.
  const ms = (key: SettingKey, fallback: number): number =>
    checked(key, (v) => settings[key].check?.(v) ?? parseDuration(v) ?? NaN, fallback);

  const addressText = get("httpProxyAddress");
  const addressState = settings.httpProxyAddress.check?.(addressText);
  if (addressState !== undefined) fail("httpProxyAddress", addressText, addressState);
  const address = addressState === undefined ? addressText : "::";
  const port = checked(
    "httpProxyPort",
    (v) => settings.httpProxyPort.check?.(v) ?? Number(v),
    8080,
  );
  const ports = checked("httpProxyConnectPorts", parsePortList, []);
  const workers = checked("httpProxyWorkers", parseWorkers, 1);
  const result: HttpProxySettings = {
    address,
    port,
    connectPorts: ports.length === 0 ? undefined : ports,
    audit: checked("httpProxyAudit", parseSwitch, false),
    workers: workers === 0 ? usableCpus() : workers,
    maxConnections: checked("httpProxyMaxConnections", (v) => parseCount(v, 1, 1_000_000), 10_000),
    maxHeaderBytes: checked(
      "httpProxyMaxHeaderBytes",
      (v) => parseCount(v, 1024, 1_048_576),
      32_768,
    ),
    headerTimeoutMs: ms("httpProxyHeaderTimeout", 30_000),
    keepAliveTimeoutMs: ms("httpProxyKeepAliveTimeout", 60_000),
    idleTimeoutMs: ms("httpProxyIdleTimeout", 900_000),
    connectTimeoutMs: ms("httpProxyConnectTimeout", 10_000),
    dnsServers: checked("httpProxyDnsServers", parseDnsServers, []),
    dnsTimeoutMs: ms("httpProxyDnsTimeout", 5_000),
    dnsCacheMs: ms("httpProxyDnsCacheSeconds", 5_000),
  };
  if (problems.length === 0) problems.push(...httpProxyAdminClash(env, flags));
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(result);
}

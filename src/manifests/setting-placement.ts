// What `manifests` does with each router setting: which ones describe the router (addresses,
// rules, network), which pass through to which container, and which cannot be deployed.
import type { ConfigProblem } from "../config/config-error.ts";
import { settings, type SettingKey, type SettingSpec } from "../config/catalogue.ts";
import {
  fileEnvName,
  fileFlagName,
  readSetting,
  type Env,
  type Flags,
} from "../config/read-setting.ts";
import { shown } from "../config/rule-lines.ts";
import type { EnvVar, RouterKind } from "./router-spec.ts";

/**
 * What `manifests` does with each router setting. `satisfies` makes a new catalogue entry a
 * compile error here until someone decides where it belongs.
 */
export const placement = {
  mode: "selects-router",
  source: "address",
  gateway: "address",
  destination: "rules",
  httpProxyDestination: "rules",
  dnsProxyDestination: "rules",
  httpProxyMode: "not-deployable",
  routerDebug: { in: "all", kinds: ["redirect", "http-proxy", "dns-proxy"] },
  dnsProxyDebug: { in: "main", kinds: ["dns-proxy"] },
  dnsProxyAddress: { in: "main", kinds: ["dns-proxy"] },
  dnsProxyConnectTimeout: { in: "main", kinds: ["dns-proxy"] },
  dnsProxyRetries: { in: "main", kinds: ["dns-proxy"] },
  dnsProxyIdleTimeout: { in: "main", kinds: ["dns-proxy"] },
  dnsProxyKeepAlive: { in: "main", kinds: ["dns-proxy"] },
  dnsProxyMaxConnections: { in: "main", kinds: ["dns-proxy"] },
  dnsProxyBalance: { in: "main", kinds: ["dns-proxy"] },
  dnsProxyHealthCheck: { in: "main", kinds: ["dns-proxy"] },
  dnsProxyNameservers: { in: "main", kinds: ["dns-proxy"] },
  dnsProxyDnsTtl: { in: "main", kinds: ["dns-proxy"] },
  dnsProxyDnsStale: { in: "main", kinds: ["dns-proxy"] },
  dnsProxyAddressFamily: { in: "main", kinds: ["dns-proxy"] },
  dnsProxyThreads: { in: "main", kinds: ["dns-proxy"] },
  egressInterface: "network",
  clusterInterface: "network",
  adminAddress: { in: "main", kinds: ["redirect", "http-proxy", "dns-proxy"] },
  // Also to the init container: in redirect mode it loads the NAT rules, which must leave the
  // admin port (the probes) to the router rather than hand it to a fallback.
  adminPort: { in: "all", kinds: ["redirect", "http-proxy", "dns-proxy"] },
  httpProxyAddress: { in: "main", kinds: ["http-proxy"] },
  httpProxyPort: { in: "main", kinds: ["http-proxy"] },
  httpProxyConnectPorts: { in: "main", kinds: ["http-proxy"] },
  httpProxyAudit: { in: "main", kinds: ["http-proxy"] },
  httpProxyWorkers: { in: "main", kinds: ["http-proxy"] },
  httpProxyMaxConnections: { in: "main", kinds: ["http-proxy"] },
  httpProxyMaxHeaderBytes: { in: "main", kinds: ["http-proxy"] },
  httpProxyHeaderTimeout: { in: "main", kinds: ["http-proxy"] },
  httpProxyKeepAliveTimeout: { in: "main", kinds: ["http-proxy"] },
  httpProxyIdleTimeout: { in: "main", kinds: ["http-proxy"] },
  httpProxyConnectTimeout: { in: "main", kinds: ["http-proxy"] },
  httpProxyDnsServers: { in: "main", kinds: ["http-proxy"] },
  httpProxyDnsTimeout: { in: "main", kinds: ["http-proxy"] },
  httpProxyDnsCacheSeconds: { in: "main", kinds: ["http-proxy"] },
  drainSeconds: { in: "main", kinds: ["redirect", "http-proxy", "dns-proxy"] },
  natBackend: { in: "all", kinds: ["redirect"] },
  // Read by the generator like every other setting; the directory is on this machine, not in the pod.
  configDir: "input",
  logFormat: { in: "all", kinds: ["redirect", "http-proxy", "dns-proxy"] },
  logLevel: { in: "all", kinds: ["redirect", "http-proxy", "dns-proxy"] },
  // Passed to the router; the HA form of the manifests (--replicas 2: anti-affinity, PDB,
  // `ha run`) is not generated yet, see docs/ha.md.
  haElection: { in: "main", kinds: ["redirect"] },
  haVrid: { in: "main", kinds: ["redirect"] },
  haPriority: { in: "main", kinds: ["redirect"] },
  haAdvertSeconds: { in: "main", kinds: ["redirect"] },
  haPeers: { in: "main", kinds: ["redirect"] },
  haPreempt: { in: "main", kinds: ["redirect"] },
  haClusterAddress: { in: "main", kinds: ["redirect"] },
  haGatewayCheckSeconds: { in: "main", kinds: ["redirect"] },
  haAddressLeaseSeconds: { in: "main", kinds: ["redirect"] },
  haDuplicateCheckSeconds: { in: "main", kinds: ["redirect"] },
  haRunDir: { in: "main", kinds: ["redirect"] },
} as const satisfies Record<
  SettingKey,
  | "selects-router"
  | "address"
  | "rules"
  | "not-deployable"
  | "network"
  | "input"
  | { in: EnvVar["in"]; kinds: readonly RouterKind[] }
>;

export const kindNames: Record<RouterKind, string> = {
  redirect: "a redirect router",
  "http-proxy": "an HTTP proxy",
  "dns-proxy": "a DNS proxy",
};

export function isPresent(spec: SettingSpec, env: Env, flags: Flags): boolean {
  return (
    env[spec.env] !== undefined ||
    flags[spec.flag] !== undefined ||
    (spec.fromFile &&
      (env[fileEnvName(spec)] !== undefined || flags[fileFlagName(spec)] !== undefined))
  );
}

/** Reads a setting with its catalogue check, once (the caller caches); undefined when unset or invalid. */
export type CheckedSetting = (
  key: SettingKey,
  env: Env,
  flags: Flags,
  problems: ConfigProblem[],
) => { value: string; explicit: boolean } | undefined;

/**
 * The router settings given that pass through to the containers, in catalogue order. A setting
 * that does not apply to the mode is an error, not silently dropped.
 */
export function passThroughEnv(
  kind: RouterKind | undefined,
  env: Env,
  flags: Flags,
  problems: ConfigProblem[],
  checked: CheckedSetting,
): EnvVar[] {
  const out: EnvVar[] = [];
  for (const key of Object.keys(settings) as SettingKey[]) {
    const where: (typeof placement)[SettingKey] = placement[key];
    const spec = settings[key];
    if (!isPresent(spec, env, flags)) continue;
    if (where === "not-deployable") {
      const v = readSetting(spec, env, flags).setting.value ?? "";
      if (v !== "")
        problems.push({
          code: "setting-invalid",
          setting: spec.env,
          message: `${spec.env}: Cannot deploy "${shown(v)}": it only printed rules in the OpenShift image (egress-router check does that now); unset it`,
        });
      continue;
    }
    if (typeof where === "string" || !kind) continue;
    if (!(where.kinds as readonly RouterKind[]).includes(kind)) {
      problems.push({
        code: "setting-invalid",
        setting: spec.env,
        message: `${spec.env}: Cannot use it for ${kindNames[kind]}: it only applies to ${where.kinds.map((k) => kindNames[k]).join(" and ")}; unset it`,
      });
      continue;
    }
    const r = checked(key, env, flags, problems);
    if (r) out.push({ name: spec.env, value: r.value, in: where.in });
  }
  return out;
}

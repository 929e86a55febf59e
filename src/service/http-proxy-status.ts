// Shared by the in-process and the multi-process HTTP proxy services: the Via pseudonym,
// the listen failure as a configuration problem, and the status summed over workers.
import { randomBytes } from "node:crypto";
import { settings as catalogue } from "../config/catalogue.ts";
import { ConfigError } from "../config/config-error.ts";
import type { HttpProxySettings } from "../config/http-proxy-settings.ts";
import type { ProxyStats } from "../http-proxy/proxy-server.ts";
import type { ServiceStatus } from "../observe/service.ts";
import type { HttpPolicy } from "../policy/http-policy.ts";

/** A pseudonym for our Via header, the same in every worker, different per router. */
export function newViaToken(): string {
  return `egress-router-${randomBytes(4).toString("hex")}`;
}

export function listenProblem(s: HttpProxySettings, code: string, message: string): ConfigError {
  const state =
    code === "EADDRINUSE"
      ? "the port is in use"
      : code === "EADDRNOTAVAIL"
        ? "the address is not on this host"
        : code === "EACCES"
          ? "permission denied"
          : message;
  return new ConfigError([
    {
      code: "setting-invalid",
      setting: catalogue.httpProxyPort.env,
      message: `${catalogue.httpProxyPort.env}: Cannot listen on ${s.address} port ${s.port}: ${state}; choose another ${catalogue.httpProxyPort.env} or ${catalogue.httpProxyAddress.env}`,
    },
  ]);
}

export function zeroStats(hits: number): ProxyStats {
  return {
    activeConnections: 0,
    readingConnections: 0,
    tunnels: 0,
    idleUpstreams: 0,
    requests: 0,
    tunnelsOpened: 0,
    denied: 0,
    audited: 0,
    rejected: 0,
    refusedAtLimit: 0,
    generation: 0,
    hits: new Array<number>(hits + 1).fill(0),
  };
}

export function statusOf(
  s: HttpProxySettings,
  port: number,
  up: boolean,
  policy: HttpPolicy,
  stats: readonly ProxyStats[],
  extra: Record<string, unknown>,
): ServiceStatus {
  const sum = (f: (x: ProxyStats) => number) => stats.reduce((a, x) => a + f(x), 0);
  return {
    mode: "http-proxy",
    listeners: [{ address: s.address, port, up }],
    activeConnections: sum((x) => x.activeConnections),
    rules: policy.rules.map((r, i) => ({
      line: r.line,
      text: r.text,
      hits: sum((x) => x.hits[i] ?? 0),
    })),
    unmatched: sum((x) => x.hits[policy.rules.length] ?? 0),
    tunnels: sum((x) => x.tunnels),
    requests: sum((x) => x.requests),
    denied: sum((x) => x.denied),
    audited: sum((x) => x.audited),
    refusedAtLimit: sum((x) => x.refusedAtLimit),
    audit: s.audit,
    ...extra,
  };
}

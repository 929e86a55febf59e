// Messages between the HTTP proxy's main thread and its worker threads (structured clone).
// The main thread owns the configuration, signals and the admin server; a worker owns its
// sockets and observes its own data path (observe/thread-observer.ts): it writes its own log
// lines (to stdout, in whole lines that never interleave with other threads'), counts its
// own metrics and keeps its own recent activity. The main thread only collects totals: every second a report, and the
// metrics on each scrape. No message per request.
import type { HttpProxySettings } from "../config/http-proxy-settings.ts";
import type { HttpRule } from "../config/types.ts";
import type { ProxyStats } from "../http-proxy/proxy-server.ts";
import type { ActivitySnapshot } from "../observe/activity.ts";
import type { MetricFamilies } from "../observe/metrics.ts";
import type { ServiceHost } from "../observe/service.ts";
import type { PortRange } from "../policy/http-policy.ts";

export interface WorkerPolicy {
  readonly rules: readonly HttpRule[];
  readonly connectPorts: readonly PortRange[] | undefined;
  readonly generation: number;
}

export interface WorkerData {
  readonly settings: HttpProxySettings;
  /** how the host logs, and its version: the worker's own logger and metrics follow it */
  readonly host: ServiceHost;
  readonly viaToken: string;
  /** client connections open in all workers together (Int32Array of one element) */
  readonly connections: SharedArrayBuffer;
}

export type ToWorker =
  | {
      readonly type: "start";
      readonly policy: WorkerPolicy;
      /** the port to listen on (the first worker's, when the configured port is 0) */
      readonly port: number;
    }
  | { readonly type: "policy"; readonly policy: WorkerPolicy }
  | { readonly type: "metrics"; readonly id: number }
  | { readonly type: "stop"; readonly drainMs: number };

/**
 * What a worker tells of itself every second and when it stops. Its activity and metrics
 * only when they changed since the last report (undefined: as before).
 */
export interface WorkerReport {
  readonly generation: number;
  readonly stats: ProxyStats;
  readonly activity: ActivitySnapshot | undefined;
  readonly metrics: MetricFamilies | undefined;
}

export type FromWorker =
  | { readonly type: "listening"; readonly port: number }
  | { readonly type: "listen-failed"; readonly code: string; readonly message: string }
  | { readonly type: "applied"; readonly generation: number }
  | { readonly type: "report"; readonly report: WorkerReport }
  | { readonly type: "metrics"; readonly id: number; readonly metrics: MetricFamilies }
  | { readonly type: "stopped"; readonly report: WorkerReport | undefined };

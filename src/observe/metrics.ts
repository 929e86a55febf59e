// Every metric the router exports, declared in one place (docs/metrics.md mirrors this
// file; a test keeps both in sync). Labels come from closed sets or the configured
// listeners only — never a host name, an address or a client. Call sites are the event
// subscribers below; the data path only publishes events. A data path running on threads of
// its own counts there (createThreadMetrics), and the host adds those counts to its own when
// it renders the exposition text (Metrics.render).
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
} from "prom-client";
import type { MetricObjectWithValues, MetricValue } from "prom-client";
import type {
  ConnectLatencyEvent,
  ConnectionCloseEvent,
  ConnectionOpenEvent,
  DecisionEvent,
  ReloadEvent,
  RequestEvent,
  ResolveEvent,
  UpstreamErrorEvent,
} from "./events.ts";
import { channels } from "./events.ts";

/** HTTP methods kept as label values; any other becomes `other` (clients choose methods). */
const knownMethods = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "CONNECT",
  "TRACE",
]);

export function methodLabel(method: string): string {
  const m = method.toUpperCase();
  return knownMethods.has(m) ? m : "other";
}

export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : "other";
}

export interface Metrics {
  readonly registry: Registry;
  setReady(ready: boolean): void;
  setDraining(draining: boolean): void;
  /**
   * The exposition text: this registry's metrics with other threads' counts added (each
   * thread's `getMetricsAsJSON()`; counters, gauges and histogram buckets are summed).
   */
  render(threads?: readonly MetricsJson[]): Promise<string>;
  close(): void;
}

/** The data-path metrics of one thread that runs a data path (no process or host metrics). */
export interface ThreadMetrics {
  readonly registry: Registry;
  close(): void;
}

/** What `Registry.getMetricsAsJSON()` gives: plain data that can be posted between threads. */
export type MetricsJson = readonly MetricObjectWithValues<MetricValue<string>>[];

const connectBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const requestBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Registers the data path's metrics in `registry` and subscribes them; returns the unsubscribe. */
function countDataPath(registry: Registry): () => void {
  const registers = [registry];
  const opened = new Counter({
    name: "egress_router_connections_opened_total",
    help: "Client connections accepted, by mode and listener (port).",
    labelNames: ["mode", "listener"],
    registers,
  });
  const active = new Gauge({
    name: "egress_router_connections_active",
    help: "Client connections open now, by mode and listener (port).",
    labelNames: ["mode", "listener"],
    registers,
  });
  const closed = new Counter({
    name: "egress_router_connections_closed_total",
    help: "Client connections closed, by mode, listener and how they ended.",
    labelNames: ["mode", "listener", "end"],
    registers,
  });
  const bytes = new Counter({
    name: "egress_router_transferred_bytes_total",
    help: "Bytes relayed, counted when a connection closes; direction from-client or to-client.",
    labelNames: ["mode", "direction"],
    registers,
  });
  const decisions = new Counter({
    name: "egress_router_decisions_total",
    help: "Policy decisions by mode, action, reason and audit (true: would deny, allowed by audit mode).",
    labelNames: ["mode", "action", "reason", "audit"],
    registers,
  });
  const upstreamErrors = new Counter({
    name: "egress_router_upstream_connect_errors_total",
    help: "Failed connects to upstreams, by mode and kind.",
    labelNames: ["mode", "kind"],
    registers,
  });
  const resolutions = new Counter({
    name: "egress_router_dns_resolutions_total",
    help: "DNS resolutions of destination names, by result (ok, failed).",
    labelNames: ["result"],
    registers,
  });
  const staleAnswers = new Counter({
    name: "egress_router_dns_stale_answers_total",
    help: "Failed re-resolutions where the last good addresses stayed in use.",
    registers,
  });
  const connectSeconds = new Histogram({
    name: "egress_router_upstream_connect_duration_seconds",
    help: "Time to connect to an upstream, by mode.",
    labelNames: ["mode"],
    buckets: connectBuckets,
    registers,
  });
  const requestSeconds = new Histogram({
    name: "egress_router_request_duration_seconds",
    help: "HTTP proxy requests until the response head, by mode, method and status class.",
    labelNames: ["mode", "method", "status"],
    buckets: requestBuckets,
    registers,
  });

  const subs = [
    [
      channels.connectionOpen,
      (m: unknown) => {
        const e = m as ConnectionOpenEvent;
        opened.inc({ mode: e.mode, listener: e.listener });
        active.inc({ mode: e.mode, listener: e.listener });
      },
    ],
    [
      channels.connectionClose,
      (m: unknown) => {
        const e = m as ConnectionCloseEvent;
        active.dec({ mode: e.mode, listener: e.listener });
        closed.inc({ mode: e.mode, listener: e.listener, end: e.end });
        bytes.inc({ mode: e.mode, direction: "from-client" }, e.bytesFromClient);
        bytes.inc({ mode: e.mode, direction: "to-client" }, e.bytesToClient);
      },
    ],
    [
      channels.decision,
      (m: unknown) => {
        const e = m as DecisionEvent;
        decisions.inc({ mode: e.mode, action: e.action, reason: e.reason, audit: String(e.audit) });
      },
    ],
    [
      channels.upstreamError,
      (m: unknown) => {
        const e = m as UpstreamErrorEvent;
        upstreamErrors.inc({ mode: e.mode, kind: e.kind });
      },
    ],
    [
      channels.resolve,
      (m: unknown) => {
        const e = m as ResolveEvent;
        resolutions.inc({ result: e.ok ? "ok" : "failed" });
        if (!e.ok && e.stale) staleAnswers.inc();
      },
    ],
    [
      channels.connectLatency,
      (m: unknown) => {
        const e = m as ConnectLatencyEvent;
        connectSeconds.observe({ mode: e.mode }, e.seconds);
      },
    ],
    [
      channels.request,
      (m: unknown) => {
        const e = m as RequestEvent;
        requestSeconds.observe(
          { mode: e.mode, method: methodLabel(e.method), status: statusClass(e.status) },
          e.seconds,
        );
      },
    ],
  ] as const;
  for (const [ch, fn] of subs) ch.subscribe(fn);
  return () => {
    for (const [ch, fn] of subs) ch.unsubscribe(fn);
  };
}

/** A registry for a data-path thread: its counts, to be added to the host's (Metrics.render). */
export function createThreadMetrics(): ThreadMetrics {
  const registry = new Registry();
  const unsubscribe = countDataPath(registry);
  return { registry, close: unsubscribe };
}

/** Creates a registry with every metric and subscribes it to the data path's events. */
export function createMetrics(info: { version: string; mode: string }): Metrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  const buildInfo = new Gauge({
    name: "egress_router_build_info",
    help: "Always 1; the labels say which version runs in which mode.",
    labelNames: ["version", "mode"],
    registers,
  });
  buildInfo.set(info, 1);
  const ready = new Gauge({
    name: "egress_router_ready",
    help: "1 when network set-up is done and every listener is up (what /readyz answers).",
    registers,
  });
  const draining = new Gauge({
    name: "egress_router_draining",
    help: "1 from the shutdown signal until the process exits.",
    registers,
  });
  const stopCounting = countDataPath(registry);
  const reloads = new Counter({
    name: "egress_router_config_reloads_total",
    help: "Configuration reloads by result (applied, rejected, unchanged, restart-needed).",
    labelNames: ["result"],
    registers,
  });
  const lastReloadOk = new Gauge({
    name: "egress_router_config_last_reload_successful",
    help: "1 when the last reload was applied (or nothing was tried since start), 0 after a rejection.",
    registers,
  });
  lastReloadOk.set(1);
  const lastApplied = new Gauge({
    name: "egress_router_config_last_applied_timestamp_seconds",
    help: "Unix time the serving configuration was applied.",
    registers,
  });

  const onReload = (m: unknown) => {
    const e = m as ReloadEvent;
    reloads.inc({ result: e.result });
    if (e.result === "applied") {
      lastReloadOk.set(1);
      lastApplied.set(Date.now() / 1000);
    } else if (e.result === "rejected") lastReloadOk.set(0);
  };
  channels.reload.subscribe(onReload);

  return {
    registry,
    setReady: (r) => ready.set(r ? 1 : 0),
    setDraining: (d) => draining.set(d ? 1 : 0),
    async render(threads = []) {
      if (threads.length === 0) return registry.metrics();
      // Only this thread has the process metrics; one of them is marked "omit" for cluster
      // aggregation, which would drop it even with a single source.
      const own = (await registry.getMetricsAsJSON()).map((m) =>
        m.aggregator === "omit" ? { ...m, aggregator: "first" as const } : m,
      );
      return AggregatorRegistry.aggregate([own, ...threads] as object[]).metrics();
    },
    close() {
      stopCounting();
      channels.reload.unsubscribe(onReload);
    },
  };
}

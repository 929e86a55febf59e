// Every metric the router exports, declared in one place (docs/metrics.md mirrors this
// file; a test keeps both in sync). Labels come from closed sets or the configured
// listeners only — never a host name, an address or a client. Call sites are the event
// subscribers below; the data path only publishes events.
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
} from "prom-client";
import type {
  ConnectLatencyEvent,
  HaEvent,
  HaRole,
  ConnectionCloseEvent,
  ConnectionOpenEvent,
  DecisionEvent,
  ReloadEvent,
  RequestEvent,
  ResolveEvent,
  UpstreamErrorEvent,
} from "./events.ts";
import { channels } from "./events.ts";
import { PlainCounter, PlainHistogram } from "./plain-metrics.ts";

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
  close(): void;
}

const haRoles: readonly HaRole[] = ["starting", "standby", "holder", "fault", "stopped"];
const takeoverBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const connectBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const requestBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** A registry's metrics as plain data (what a worker thread sends to the main thread). */
export type MetricFamilies = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

/**
 * The metrics fed by the data path's events: what a thread that forwards connections (a
 * DNS-proxy or HTTP-proxy worker thread) counts itself and hands over in totals, to be added
 * to the main thread's. Every other metric is the main thread's own.
 */
export const connectionMetricNames: readonly string[] = [
  "egress_router_connections_opened_total",
  "egress_router_connections_active",
  "egress_router_connections_closed_total",
  "egress_router_transferred_bytes_total",
  "egress_router_upstream_connect_errors_total",
  "egress_router_upstream_connect_duration_seconds",
  // the HTTP proxy's worker threads also decide, answer requests and look names up
  "egress_router_decisions_total",
  "egress_router_request_duration_seconds",
  "egress_router_dns_resolutions_total",
  "egress_router_dns_stale_answers_total",
];

/**
 * The metrics the data path updates per connection or per request, plain (plain-metrics.ts):
 * registered with `registers` (the main thread's registry, an HTTP worker thread's), or on
 * their own for a DNS-proxy forwarding thread's counts (tcp-proxy/connection-counts.ts),
 * which the main thread adds to its own. One definition for both, so they cannot drift.
 */
export function connectionMetrics(registers: Registry[] = []) {
  const opened = new PlainCounter({
    name: "egress_router_connections_opened_total",
    help: "Client connections accepted, by mode and listener (port).",
    labelNames: ["mode", "listener"],
    registers,
  });
  const active = new PlainCounter(
    {
      name: "egress_router_connections_active",
      help: "Client connections open now, by mode and listener (port).",
      labelNames: ["mode", "listener"],
      registers,
    },
    "gauge",
  );
  const closed = new PlainCounter({
    name: "egress_router_connections_closed_total",
    help: "Client connections closed, by mode, listener and how they ended.",
    labelNames: ["mode", "listener", "end"],
    registers,
  });
  const bytes = new PlainCounter({
    name: "egress_router_transferred_bytes_total",
    help: "Bytes relayed, counted when a connection closes; direction from-client or to-client.",
    labelNames: ["mode", "direction"],
    registers,
  });
  const decisions = new PlainCounter({
    name: "egress_router_decisions_total",
    help: "Policy decisions by mode, action, reason and audit (true: would deny, allowed by audit mode).",
    labelNames: ["mode", "action", "reason", "audit"],
    registers,
  });
  const upstreamErrors = new PlainCounter({
    name: "egress_router_upstream_connect_errors_total",
    help: "Failed connects to upstreams, by mode and kind.",
    labelNames: ["mode", "kind"],
    registers,
  });
  const connectSeconds = new PlainHistogram({
    name: "egress_router_upstream_connect_duration_seconds",
    help: "Time to connect to an upstream, by mode.",
    labelNames: ["mode"],
    buckets: connectBuckets,
    registers,
  });
  const requestSeconds = new PlainHistogram({
    name: "egress_router_request_duration_seconds",
    help: "HTTP proxy requests until the response head, by mode, method and status class.",
    labelNames: ["mode", "method", "status"],
    buckets: requestBuckets,
    registers,
  });

  return {
    opened,
    active,
    closed,
    bytes,
    decisions,
    upstreamErrors,
    connectSeconds,
    requestSeconds,
  };
}

/**
 * Creates a registry with every metric and subscribes it to the data path's events.
 * `processMetrics: false` leaves out prom-client's process and Node.js metrics (a worker
 * thread: those are the process's, counted once by the main thread).
 */
export function createMetrics(
  info: { version: string; mode: string },
  options: { readonly processMetrics?: boolean } = {},
): Metrics {
  const registry = new Registry();
  const registers = [registry];
  // The event-loop delay is sampled 10 times a second, not prom-client's default 100: the
  // main thread of a proxy mode is otherwise idle, and each sample wakes it.
  if (options.processMetrics !== false) {
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  }

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
  const c = connectionMetrics(registers);
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
  const haHolder = new Gauge({
    name: "egress_router_ha_holder",
    help: "Active/standby: 1 while this replica holds the source address (NAT in, ready); alert when the sum over replicas is not 1.",
    registers,
  });
  const haRole = new Gauge({
    name: "egress_router_ha_role",
    help: "Active/standby: 1 for this replica's current role (starting, standby, holder, fault, stopped), 0 for the others.",
    labelNames: ["role"],
    registers,
  });
  const haRoleChanges = new Counter({
    name: "egress_router_ha_role_changes_total",
    help: "Active/standby: role changes, by the role taken.",
    labelNames: ["role"],
    registers,
  });
  const haTakeover = new Histogram({
    name: "egress_router_ha_takeover_seconds",
    help: "Active/standby: from the election naming this replica holder to holding (address leased, routes and NAT in, ready).",
    buckets: takeoverBuckets,
    registers,
  });
  const haSplitBrain = new Gauge({
    name: "egress_router_ha_split_brain",
    help: "Active/standby: 1 while another host answers for the source address longer than a dying holder could (two holders: VRRP does not reach between them).",
    registers,
  });
  const haSplitBrains = new Counter({
    name: "egress_router_ha_split_brains_total",
    help: "Active/standby: times another holder of the source address was found.",
    registers,
  });

  const subs = [
    [
      channels.ha,
      (m: unknown) => {
        const e = m as HaEvent;
        if (e.kind === "split-brain") {
          haSplitBrain.set(e.detected ? 1 : 0);
          if (e.detected) haSplitBrains.inc();
          return;
        }
        haHolder.set(e.holding ? 1 : 0);
        for (const r of haRoles) haRole.set({ role: r }, r === e.role ? 1 : 0);
        haRoleChanges.inc({ role: e.role });
        if (e.takeoverSeconds !== undefined) haTakeover.observe(e.takeoverSeconds);
      },
    ],
    [
      channels.connectionOpen,
      (m: unknown) => {
        const e = m as ConnectionOpenEvent;
        c.opened.series(e.mode, e.listener).value += 1;
        c.active.series(e.mode, e.listener).value += 1;
      },
    ],
    [
      channels.connectionClose,
      (m: unknown) => {
        const e = m as ConnectionCloseEvent;
        c.active.series(e.mode, e.listener).value -= 1;
        c.closed.series(e.mode, e.listener, e.end).value += 1;
        c.bytes.series(e.mode, "from-client").value += e.bytesFromClient;
        c.bytes.series(e.mode, "to-client").value += e.bytesToClient;
      },
    ],
    [
      channels.decision,
      (m: unknown) => {
        const e = m as DecisionEvent;
        c.decisions.series(e.mode, e.action, e.reason, e.audit ? "true" : "false").value += 1;
      },
    ],
    [
      channels.upstreamError,
      (m: unknown) => {
        const e = m as UpstreamErrorEvent;
        c.upstreamErrors.series(e.mode, e.kind).value += 1;
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
      channels.reload,
      (m: unknown) => {
        const e = m as ReloadEvent;
        reloads.inc({ result: e.result });
        if (e.result === "applied") {
          lastReloadOk.set(1);
          lastApplied.set(Date.now() / 1000);
        } else if (e.result === "rejected") lastReloadOk.set(0);
      },
    ],
    [
      channels.connectLatency,
      (m: unknown) => {
        const e = m as ConnectLatencyEvent;
        c.connectSeconds.observe(c.connectSeconds.series(e.mode), e.seconds);
      },
    ],
    [
      channels.request,
      (m: unknown) => {
        const e = m as RequestEvent;
        const series = c.requestSeconds.series(
          e.mode,
          methodLabel(e.method),
          statusClass(e.status),
        );
        c.requestSeconds.observe(series, e.seconds);
      },
    ],
  ] as const;
  for (const [ch, fn] of subs) ch.subscribe(fn);

  return {
    registry,
    setReady: (r) => ready.set(r ? 1 : 0),
    setDraining: (d) => draining.set(d ? 1 : 0),
    close() {
      for (const [ch, fn] of subs) ch.unsubscribe(fn);
    },
  };
}

/**
 * The registry's metrics in Prometheus text format, with the connection metrics of other
 * threads (`others`, from their registries) added to this one's: counters, gauges and
 * histogram buckets are summed per label set, so totals are exact however the connections
 * were spread over the threads.
 */
export async function renderMetrics(
  registry: Registry,
  others: readonly MetricFamilies[],
): Promise<string> {
  if (others.length === 0) return registry.metrics();
  const merged = AggregatorRegistry.aggregate([
    (await registry.getMetricsAsJSON()).filter((m) => connectionMetricNames.includes(m.name)),
    ...others.map((list) => list.filter((m) => connectionMetricNames.includes(m.name))),
  ]);
  const parts: string[] = [];
  for (const m of registry.getMetricsAsArray()) {
    parts.push(
      connectionMetricNames.includes(m.name)
        ? await merged.getSingleMetricAsString(m.name)
        : await registry.getSingleMetricAsString(m.name),
    );
  }
  return `${parts.join("\n\n")}\n`;
}

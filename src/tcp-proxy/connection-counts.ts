// The connection metrics of one forwarding thread, counted in plain numbers on the data path
// and turned into metric families (the shape prom-client's getMetricsAsJSON gives, which
// the main thread adds to its own: observe/metrics.ts renderMetrics) only when /metrics is
// read. Counting a connection this way costs a few additions; through prom-client it was a
// dozen label look-ups per connection.
//
// Names, help texts, types and the histogram's buckets are taken from the registry the main
// thread uses (createMetrics), once per thread, so the two cannot drift apart.
import type { CloseReason, UpstreamErrorKind } from "../observe/events.ts";
import type { MetricFamilies } from "../observe/metrics.ts";
import { createMetrics } from "../observe/metrics.ts";

/** Counts of one listener (a rule's port); kept when the rule goes (counters never go back). */
export class ListenerCounts {
  readonly listener: string;
  opened = 0;
  active = 0;
  readonly closed = new Map<CloseReason, number>();

  constructor(listener: string) {
    this.listener = listener;
  }

  close(end: CloseReason): void {
    this.active -= 1;
    this.closed.set(end, (this.closed.get(end) ?? 0) + 1);
  }
}

const names = {
  opened: "egress_router_connections_opened_total",
  active: "egress_router_connections_active",
  closed: "egress_router_connections_closed_total",
  bytes: "egress_router_transferred_bytes_total",
  errors: "egress_router_upstream_connect_errors_total",
  connect: "egress_router_upstream_connect_duration_seconds",
} as const;

/** What the main thread's registry says about the connection metrics. */
export interface MetricTemplate {
  readonly help: Readonly<Record<string, string>>;
  /** the connect-duration histogram's upper bounds (seconds), ascending, without +Inf */
  readonly bounds: readonly number[];
}

/** Reads the connection metrics' definitions from a registry made as the main thread's is. */
export async function loadMetricTemplate(): Promise<MetricTemplate> {
  const m = createMetrics({ version: "", mode: "" }, { processMetrics: false });
  try {
    // One observation, straight on this private registry's histogram (not through the
    // events), to read its buckets as prom-client writes them.
    const h = m.registry.getSingleMetric(names.connect) as
      { observe(labels: Record<string, string>, v: number): void } | undefined;
    h?.observe({ mode: "dns-proxy" }, 0);
    const help: Record<string, string> = {};
    let bounds: number[] = [];
    for (const f of await m.registry.getMetricsAsJSON()) {
      help[f.name] = f.help;
      if (f.name === names.connect) {
        bounds = f.values
          .map((v) => v.labels["le"])
          .filter((le): le is number => typeof le === "number");
      }
    }
    return { help, bounds };
  } finally {
    m.close();
  }
}

export class ConnectionCounts {
  readonly mode = "dns-proxy";
  readonly template: MetricTemplate;
  readonly #listeners = new Map<string, ListenerCounts>();
  bytesFromClient = 0;
  bytesToClient = 0;
  readonly #errors = new Map<UpstreamErrorKind, number>();
  /** connect durations: count per bucket (the template's bounds, then +Inf), sum, count */
  readonly #connectBuckets: Float64Array;
  #connectSum = 0;
  #connectCount = 0;

  constructor(template: MetricTemplate) {
    this.template = template;
    this.#connectBuckets = new Float64Array(template.bounds.length + 1);
  }

  /** The counts of `listener`, created on first use. */
  listener(listener: string): ListenerCounts {
    let c = this.#listeners.get(listener);
    if (c === undefined) {
      c = new ListenerCounts(listener);
      this.#listeners.set(listener, c);
    }
    return c;
  }

  upstreamError(kind: UpstreamErrorKind): void {
    this.#errors.set(kind, (this.#errors.get(kind) ?? 0) + 1);
  }

  connectDuration(seconds: number): void {
    this.#connectSum += seconds;
    this.#connectCount += 1;
    const bounds = this.template.bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    this.#connectBuckets[i] = (this.#connectBuckets[i] ?? 0) + 1;
  }

  /** The counts as metric families, to be summed with the main thread's. */
  families(): MetricFamilies {
    const t = this.template;
    const mode = this.mode;
    const listeners = [...this.#listeners.values()];
    const family = (
      name: string,
      type: string,
      values: { value: number; labels: Record<string, string | number>; metricName?: string }[],
    ): MetricFamilies[number] =>
      ({
        help: t.help[name] ?? name,
        name,
        type,
        values,
        aggregator: "sum",
      }) as unknown as MetricFamilies[number];
    const out: MetricFamilies = [
      family(
        names.opened,
        "counter",
        listeners.map((c) => ({ value: c.opened, labels: { mode, listener: c.listener } })),
      ),
      family(
        names.active,
        "gauge",
        listeners.map((c) => ({ value: c.active, labels: { mode, listener: c.listener } })),
      ),
      family(
        names.closed,
        "counter",
        listeners.flatMap((c) =>
          [...c.closed].map(([end, value]) => ({
            value,
            labels: { mode, listener: c.listener, end },
          })),
        ),
      ),
      family(names.bytes, "counter", [
        { value: this.bytesFromClient, labels: { mode, direction: "from-client" } },
        { value: this.bytesToClient, labels: { mode, direction: "to-client" } },
      ]),
      family(
        names.errors,
        "counter",
        [...this.#errors].map(([kind, value]) => ({ value, labels: { mode, kind } })),
      ),
    ];
    if (this.#connectCount > 0) {
      const buckets = this.#connectBuckets;
      let cumulative = 0;
      const values: {
        value: number;
        labels: Record<string, string | number>;
        metricName: string;
      }[] = [];
      for (let i = 0; i <= t.bounds.length; i++) {
        cumulative += buckets[i] ?? 0;
        values.push({
          value: cumulative,
          metricName: `${names.connect}_bucket`,
          labels: { le: i < t.bounds.length ? (t.bounds[i] as number) : "+Inf", mode },
        });
      }
      values.push(
        { value: this.#connectSum, metricName: `${names.connect}_sum`, labels: { mode } },
        { value: this.#connectCount, metricName: `${names.connect}_count`, labels: { mode } },
      );
      out.push(family(names.connect, "histogram", values));
    }
    return out;
  }
}

// Counters, gauges and histograms for the metrics the data path updates per connection or per
// request: the numbers are plain fields of a series object the caller looks up once per set
// of label values and keeps, and they become metric families only when the registry is read.
// Updating a prom-client metric with labels hashes and validates the label object on every
// call (a child from `labels()` too), which was a noticeable part of an HTTP request's cost.
//
// They register with a prom-client Registry like its own metrics (a name, help, type and a
// `get()` giving the values), so /metrics, the families a worker thread hands to the main
// thread and their sums look exactly as prom-client's own would: same names, label order,
// buckets and `+Inf`, `_sum` and `_count` lines (observe/metrics.test.ts compares them).
import type { Registry } from "prom-client";

type Labels = Record<string, string | number>;

/** One value, as the registry reads it. */
interface MetricValue {
  readonly value: number;
  readonly labels: Labels;
  readonly metricName?: string;
}

/** What a registry reads from a metric. */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly aggregator: "sum";
  readonly values: MetricValue[];
}

interface Definition {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly registers?: readonly Registry[];
}

/** The series of a counter or gauge: add to `value` (a gauge may also subtract). */
export interface Series {
  readonly labels: Labels;
  value: number;
}

/**
 * Series by their label values: a tree of maps, one level per label, so a lookup builds no
 * key string (joining the values and hashing the new string was most of an update's cost).
 * `all` keeps the series in the order they were made, as a map of keys would.
 */
class SeriesIndex<S> {
  #root = new Map<string, unknown>();
  all: S[] = [];
  readonly #labelNames: readonly string[];

  constructor(labelNames: readonly string[]) {
    this.#labelNames = labelNames;
  }

  get(values: readonly string[]): S | undefined {
    const n = values.length;
    // (a wrong number of values would find a level of the tree instead of a series)
    if (n !== this.#labelNames.length) labelsOf(this.#labelNames, values);
    if (n === 0) return this.#root.get("") as S | undefined;
    let level = this.#root;
    for (let i = 0; i < n - 1; i++) {
      const next = level.get(values[i] as string) as Map<string, unknown> | undefined;
      if (next === undefined) return undefined;
      level = next;
    }
    return level.get(values[n - 1] as string) as S | undefined;
  }

  add(values: readonly string[], s: S): S {
    const n = values.length;
    let level = this.#root;
    for (let i = 0; i < n - 1; i++) {
      const v = values[i] as string;
      let next = level.get(v) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(v, next);
      }
      level = next;
    }
    level.set(n === 0 ? "" : (values[n - 1] as string), s);
    this.all.push(s);
    return s;
  }

  clear(): void {
    this.#root = new Map();
    this.all = [];
  }
}

function labelsOf(names: readonly string[], values: readonly string[]): Labels {
  if (names.length !== values.length) {
    throw new Error(`expected ${names.length} label values (${names.join(", ")})`);
  }
  const labels: Labels = {};
  names.forEach((n, i) => (labels[n] = values[i] as string));
  return labels;
}

function register(metric: { readonly name: string }, registers: readonly Registry[] = []) {
  type Registered = Parameters<Registry["registerMetric"]>[0];
  for (const r of registers) r.registerMetric(metric as unknown as Registered);
}

export class PlainCounter {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge";
  readonly aggregator = "sum";
  readonly labelNames: readonly string[];
  readonly #series: SeriesIndex<Series>;

  constructor(definition: Definition, type: "counter" | "gauge" = "counter") {
    this.name = definition.name;
    this.help = definition.help;
    this.type = type;
    this.labelNames = definition.labelNames;
    this.#series = new SeriesIndex(definition.labelNames);
    register(this, definition.registers);
  }

  /** The series of these label values (in the order of `labelNames`), made at first use. */
  series(...values: string[]): Series {
    return (
      this.#series.get(values) ??
      this.#series.add(values, { labels: labelsOf(this.labelNames, values), value: 0 })
    );
  }

  get(): MetricFamily {
    const values: MetricValue[] = [];
    for (const s of this.#series.all) values.push({ value: s.value, labels: s.labels });
    return { name: this.name, help: this.help, type: this.type, aggregator: "sum", values };
  }

  /** Forgets every series (a registry's resetMetrics); series held by callers are detached. */
  reset(): void {
    this.#series.clear();
  }
}

/** The series of a histogram: `observe` it. */
export interface HistogramSeries {
  readonly labels: Labels;
  /** observations per bucket, not cumulative; the last one is +Inf's */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

export class PlainHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram";
  readonly aggregator = "sum";
  /** upper bounds, ascending, without +Inf */
  readonly bounds: readonly number[];
  readonly labelNames: readonly string[];
  readonly #series: SeriesIndex<HistogramSeries>;

  constructor(definition: Definition & { readonly buckets: readonly number[] }) {
    this.name = definition.name;
    this.help = definition.help;
    this.bounds = [...definition.buckets].sort((a, b) => a - b);
    this.labelNames = definition.labelNames;
    this.#series = new SeriesIndex(definition.labelNames);
    register(this, definition.registers);
  }

  series(...values: string[]): HistogramSeries {
    return (
      this.#series.get(values) ??
      this.#series.add(values, {
        labels: labelsOf(this.labelNames, values),
        buckets: new Float64Array(this.bounds.length + 1),
        sum: 0,
        count: 0,
      })
    );
  }

  observe(s: HistogramSeries, value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    s.buckets[i] = (s.buckets[i] ?? 0) + 1;
    s.sum += value;
    s.count += 1;
  }

  get(): MetricFamily {
    const bucket = `${this.name}_bucket`;
    const values: MetricValue[] = [];
    for (const s of this.#series.all) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.buckets[i] ?? 0;
        values.push({ value: cumulative, labels: { le, ...s.labels }, metricName: bucket });
      });
      values.push(
        { value: s.count, labels: { le: "+Inf", ...s.labels }, metricName: bucket },
        { value: s.sum, labels: { ...s.labels }, metricName: `${this.name}_sum` },
        { value: s.count, labels: { ...s.labels }, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: "sum", values };
  }

  reset(): void {
    this.#series.clear();
  }
}

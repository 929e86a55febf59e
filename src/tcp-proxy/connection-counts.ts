// The connection metrics of one forwarding thread, counted in plain numbers on the data path
// (observe/plain-metrics.ts, the same metrics the main thread's registry has, from the same
// definitions) and handed to the main thread as metric families when /metrics is read; the
// main thread adds them to its own (observe/metrics.ts renderMetrics). Counting a
// connection costs a few additions to series looked up once per listener.
import type { CloseReason, UpstreamErrorKind } from "../observe/events.ts";
import type { MetricFamilies } from "../observe/metrics.ts";
import { connectionMetrics } from "../observe/metrics.ts";
import type { Series } from "../observe/plain-metrics.ts";

const mode = "dns-proxy";

type Metrics = ReturnType<typeof connectionMetrics>;

/** Counts of one listener (a rule's port); kept when the rule goes (counters never go back). */
export class ListenerCounts {
  readonly listener: string;
  readonly #metrics: Metrics;
  readonly #opened: Series;
  readonly #active: Series;
  readonly #closed = new Map<CloseReason, Series>();

  constructor(metrics: Metrics, listener: string) {
    this.listener = listener;
    this.#metrics = metrics;
    this.#opened = metrics.opened.series(mode, listener);
    this.#active = metrics.active.series(mode, listener);
  }

  get opened(): number {
    return this.#opened.value;
  }

  set opened(n: number) {
    this.#opened.value = n;
  }

  get active(): number {
    return this.#active.value;
  }

  set active(n: number) {
    this.#active.value = n;
  }

  close(end: CloseReason): void {
    this.#active.value -= 1;
    let s = this.#closed.get(end);
    if (s === undefined) {
      s = this.#metrics.closed.series(mode, this.listener, end);
      this.#closed.set(end, s);
    }
    s.value += 1;
  }
}

export class ConnectionCounts {
  readonly mode = mode;
  readonly #metrics: Metrics = connectionMetrics();
  readonly #listeners = new Map<string, ListenerCounts>();
  readonly #fromClient: Series = this.#metrics.bytes.series(mode, "from-client");
  readonly #toClient: Series = this.#metrics.bytes.series(mode, "to-client");

  /** The counts of `listener`, created on first use. */
  listener(listener: string): ListenerCounts {
    let c = this.#listeners.get(listener);
    if (c === undefined) {
      c = new ListenerCounts(this.#metrics, listener);
      this.#listeners.set(listener, c);
    }
    return c;
  }

  get bytesFromClient(): number {
    return this.#fromClient.value;
  }

  set bytesFromClient(n: number) {
    this.#fromClient.value = n;
  }

  get bytesToClient(): number {
    return this.#toClient.value;
  }

  set bytesToClient(n: number) {
    this.#toClient.value = n;
  }

  upstreamError(kind: UpstreamErrorKind): void {
    this.#metrics.upstreamErrors.series(mode, kind).value += 1;
  }

  connectDuration(seconds: number): void {
    const h = this.#metrics.connectSeconds;
    h.observe(h.series(mode), seconds);
  }

  /** The counts as metric families, to be summed with the main thread's. */
  families(): MetricFamilies {
    const m = this.#metrics;
    const all = [m.opened, m.active, m.closed, m.bytes, m.upstreamErrors, m.connectSeconds];
    return all.map((metric) => metric.get()) as unknown as MetricFamilies;
  }
}

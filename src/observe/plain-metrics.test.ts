// Plain metrics must read exactly as prom-client's own metrics given the same updates: the
// same Prometheus text (names, label order, buckets, +Inf, _sum, _count) and the same JSON
// (which the main thread sums across threads).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { PlainCounter, PlainHistogram } from "./plain-metrics.ts";

const buckets = [0.001, 0.01, 0.1, 1, 10];
/** on a bound, between bounds, below the first, past the last */
const observations = [0.001, 0.0005, 0.05, 0.1, 3, 10, 60, 0.2];

function both() {
  const theirs = new Registry();
  const ours = new Registry();
  const help = "h";
  return {
    theirs,
    ours,
    counter: [
      new Counter({ name: "c_total", help, labelNames: ["mode", "end"], registers: [theirs] }),
      new PlainCounter({ name: "c_total", help, labelNames: ["mode", "end"], registers: [ours] }),
    ] as const,
    gauge: [
      new Gauge({ name: "g", help, labelNames: ["listener"], registers: [theirs] }),
      new PlainCounter({ name: "g", help, labelNames: ["listener"], registers: [ours] }, "gauge"),
    ] as const,
    histogram: [
      new Histogram({
        name: "h_seconds",
        help,
        labelNames: ["mode"],
        buckets,
        registers: [theirs],
      }),
      new PlainHistogram({
        name: "h_seconds",
        help,
        labelNames: ["mode"],
        buckets,
        registers: [ours],
      }),
    ] as const,
  };
}

describe("plain metrics", () => {
  it("read as prom-client's counters, gauges and histograms given the same updates", async () => {
    const m = both();
    const [c, pc] = m.counter;
    for (const [mode, end, n] of [
      ["http-proxy", "done", 1],
      ["http-proxy", "done", 2],
      ["dns-proxy", "limit", 1],
      ["http-proxy", "client-reset", 5],
    ] as const) {
      c.inc({ mode, end }, n);
      pc.series(mode, end).value += n;
    }
    const [g, pg] = m.gauge;
    for (const [listener, d] of [
      ["80", 1],
      ["80", 1],
      ["443", 1],
      ["80", -1],
    ] as const) {
      g.inc({ listener }, d);
      pg.series(listener).value += d;
    }
    const [h, ph] = m.histogram;
    for (const [i, v] of observations.entries()) {
      const mode = i % 3 === 0 ? "dns-proxy" : "http-proxy";
      h.observe({ mode }, v);
      ph.observe(ph.series(mode), v);
    }
    assert.equal(await m.ours.metrics(), await m.theirs.metrics());
    // (prom-client adds `exemplar: null` to histogram values; exemplars are not used here)
    const withoutExemplars = (families: Awaited<ReturnType<Registry["getMetricsAsJSON"]>>) =>
      JSON.parse(
        JSON.stringify(families, (k, v: unknown) => (k === "exemplar" ? undefined : v)),
      ) as unknown;
    assert.deepEqual(
      withoutExemplars(await m.ours.getMetricsAsJSON()),
      withoutExemplars(await m.theirs.getMetricsAsJSON()),
    );
    assert.match(await m.ours.metrics(), /h_seconds_bucket\{le="\+Inf",mode="http-proxy"\} 5/);
  });

  it("read as prom-client's before any update, and after a reset", async () => {
    const m = both();
    assert.equal(await m.ours.metrics(), await m.theirs.metrics());
    m.counter[1].series("x", "y").value += 1;
    m.ours.resetMetrics();
    assert.equal(await m.ours.metrics(), await m.theirs.metrics());
  });

  it("refuse label values that do not match the label names", () => {
    const m = both();
    assert.throws(() => m.counter[1].series("only-one"), /expected 2 label values/);
    // also once a series under that first value exists (its level is not a series)
    m.counter[1].series("only-one", "two").value += 1;
    assert.throws(() => m.counter[1].series("only-one"), /expected 2 label values/);
    assert.throws(() => m.counter[1].series("only-one", "two", "three"), /expected 2/);
  });
});

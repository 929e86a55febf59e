// A forwarding thread's own counts must read exactly as prom-client would have counted the
// same connections from their events: same series, same values, same buckets.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CloseReason, UpstreamErrorKind } from "../observe/events.ts";
import {
  publishConnectLatency,
  publishConnectionClose,
  publishConnectionOpen,
  publishUpstreamError,
} from "../observe/events.ts";
import { connectionMetricNames, createMetrics, renderMetrics } from "../observe/metrics.ts";
import { ConnectionCounts } from "./connection-counts.ts";

interface Conn {
  readonly listener: string;
  readonly end: CloseReason;
  readonly fromClient: number;
  readonly toClient: number;
  /** connect duration, seconds; undefined: never connected */
  readonly connect: number | undefined;
}

const conns: Conn[] = [
  { listener: "5432", end: "done", fromClient: 10, toClient: 2000, connect: 0.0004 },
  { listener: "5432", end: "done", fromClient: 1, toClient: 1, connect: 0.001 }, // on a bound
  { listener: "5432", end: "client-reset", fromClient: 0, toClient: 7, connect: 0.03 },
  { listener: "6379", end: "idle-timeout", fromClient: 5, toClient: 0, connect: 2 },
  { listener: "6379", end: "connect-failed", fromClient: 0, toClient: 0, connect: undefined },
  { listener: "6379", end: "limit", fromClient: 0, toClient: 0, connect: undefined },
  { listener: "7000", end: "done", fromClient: 3, toClient: 3, connect: 60 }, // past every bucket
];
const errors: UpstreamErrorKind[] = ["refused", "refused", "timeout", "no-address"];
/** one connection still open */
const open = { listener: "7000", connect: 0.2 };

/** The connection metrics' lines of a Prometheus text, in a stable order. */
function connectionLines(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => connectionMetricNames.some((n) => l.startsWith(n)))
    .sort();
}

describe("ConnectionCounts", () => {
  it("reads as prom-client counting the same connections' events", async () => {
    // As events, into a registry like the main thread's.
    const viaEvents = createMetrics({ version: "t", mode: "dns-proxy" }, { processMetrics: false });
    for (const c of [...conns, open]) {
      publishConnectionOpen({ mode: "dns-proxy", listener: c.listener, client: "" });
      if (c.connect !== undefined) publishConnectLatency({ mode: "dns-proxy", seconds: c.connect });
    }
    for (const c of conns) {
      publishConnectionClose({
        mode: "dns-proxy",
        listener: c.listener,
        client: "",
        destination: "d",
        address: undefined,
        ruleLine: 1,
        bytesFromClient: c.fromClient,
        bytesToClient: c.toClient,
        durationMs: 0,
        end: c.end,
      });
    }
    for (const kind of errors) {
      publishUpstreamError({
        mode: "dns-proxy",
        destination: "d",
        address: undefined,
        kind,
        message: "",
      });
    }
    const expected = connectionLines(await viaEvents.registry.metrics());
    viaEvents.close();

    // As a thread counts them, added to an empty main-thread registry.
    const counts = new ConnectionCounts();
    for (const c of [...conns, open]) {
      const l = counts.listener(c.listener);
      l.opened += 1;
      l.active += 1;
      if (c.connect !== undefined) counts.connectDuration(c.connect);
    }
    for (const c of conns) {
      counts.listener(c.listener).close(c.end);
      counts.bytesFromClient += c.fromClient;
      counts.bytesToClient += c.toClient;
    }
    for (const kind of errors) counts.upstreamError(kind);
    const main = createMetrics({ version: "t", mode: "dns-proxy" }, { processMetrics: false });
    const actual = connectionLines(await renderMetrics(main.registry, [counts.families()]));
    main.close();

    assert.ok(expected.length > 30, `enough series compared (${expected.length})`);
    assert.deepEqual(actual, expected);
  });

  it("has no connect-duration series before the first connect", () => {
    const counts = new ConnectionCounts();
    counts.listener("80").opened += 1;
    const family = (name: string) => counts.families().find((f) => f.name === name);
    assert.deepEqual(family("egress_router_upstream_connect_duration_seconds")?.values, []);
    assert.deepEqual(family("egress_router_connections_opened_total")?.values, [
      { value: 1, labels: { mode: "dns-proxy", listener: "80" } },
    ]);
  });
});

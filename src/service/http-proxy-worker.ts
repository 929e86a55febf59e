// A worker thread of the HTTP proxy: one proxy listening with SO_REUSEPORT on the shared
// port. Diagnostics channels are per thread, so this thread observes its own data path: its
// own logger writes the decision and connection lines (whole lines straight to stdout, see
// observe/line-writer.ts), its own registry counts the metrics, its own tracker keeps the
// recent activity. The main thread gets a report each second and the metrics when scraped.
import { parentPort, workerData } from "node:worker_threads";
import { sharedConnectionCount } from "../http-proxy/connection-count.ts";
import { createHttpProxy, type HttpProxy } from "../http-proxy/proxy-server.ts";
import { createResolver } from "../net/resolver.ts";
import { trackActivity } from "../observe/activity.ts";
import { observeThread } from "../observe/thread-observer.ts";
import { compileHttpPolicy } from "../policy/http-policy.ts";
import type { FromWorker, ToWorker, WorkerData, WorkerPolicy } from "./worker-protocol.ts";

const REPORT_MS = 1_000;

if (parentPort === null) throw new Error("http-proxy-worker.ts runs as a worker thread only");
const port = parentPort;
const data = workerData as WorkerData & { readonly index: number };
const s = data.settings;

function send(m: FromWorker): void {
  port.postMessage(m);
}

const observer = observeThread({ ...data.host, mode: "http-proxy", countMetrics: true });
const activity = trackActivity();

const compile = (p: WorkerPolicy) => compileHttpPolicy(p.rules, { connectPorts: p.connectPorts });

let proxy: HttpProxy | undefined;
let generation = 0;

let reportedActivity = -1;
let reportedStats = "";
/** The report; its activity and metrics only when they may have changed since the last one. */
async function report(full = false) {
  if (proxy === undefined) return undefined;
  const stats = proxy.stats();
  const fingerprint = `${stats.requests} ${stats.rejected} ${stats.activeConnections} ${stats.tunnelsOpened}`;
  const activityChanged = full || activity.version !== reportedActivity;
  const metricsChanged = full || fingerprint !== reportedStats;
  reportedActivity = activity.version;
  reportedStats = fingerprint;
  return {
    generation,
    stats,
    activity: activityChanged ? activity.snapshot() : undefined,
    metrics: metricsChanged ? await observer.metricFamilies() : undefined,
  };
}

async function onMessage(m: ToWorker): Promise<void> {
  switch (m.type) {
    case "start": {
      generation = m.policy.generation;
      proxy = createHttpProxy({
        policy: compile(m.policy),
        resolver: createResolver({
          servers: s.dnsServers,
          cacheMs: s.dnsCacheMs,
          timeoutMs: s.dnsTimeoutMs,
        }),
        audit: s.audit,
        resolveTimeoutMs: s.dnsTimeoutMs,
        connectTimeoutMs: s.connectTimeoutMs,
        headerTimeoutMs: s.headerTimeoutMs,
        keepAliveTimeoutMs: s.keepAliveTimeoutMs,
        idleTimeoutMs: s.idleTimeoutMs,
        maxConnections: s.maxConnections,
        connectionCount: sharedConnectionCount(data.connections, data.index),
        maxHeaderBytes: s.maxHeaderBytes,
        viaToken: data.viaToken,
        listenerName: String(s.port),
      });
      try {
        const a = await proxy.listen({ host: s.address, port: m.port, reusePort: true });
        send({ type: "listening", port: a.port });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        send({ type: "listen-failed", code: e.code ?? "EUNKNOWN", message: e.message });
        return;
      }
      setInterval(() => {
        void report().then((r) => r && send({ type: "report", report: r }));
      }, REPORT_MS).unref();
      return;
    }
    case "policy":
      proxy?.setPolicy(compile(m.policy));
      generation = m.policy.generation;
      send({ type: "applied", generation });
      return;
    case "metrics":
      send({ type: "metrics", id: m.id, metrics: await observer.metricFamilies() });
      return;
    case "stop": {
      await proxy?.close(m.drainMs);
      const last = await report(true);
      observer.close(); // writes the lines still waiting
      send({ type: "stopped", report: last });
      process.exit(0);
    }
  }
}

port.on("message", (m: ToWorker) => {
  onMessage(m).catch((err: unknown) => {
    process.stderr.write(`egress-router: http-proxy worker ${data.index}: ${String(err)}\n`);
  });
});

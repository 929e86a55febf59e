// The HTTP proxy on every core: one worker thread per CPU, each with its own event loop and
// its own listening socket on the same port (SO_REUSEPORT: the kernel spreads connections).
// Threads rather than processes: one runtime instead of one per worker, and no worker can
// outlive the router. Each thread logs, counts and tracks its own data path; this thread
// sends every policy to all of them, sums their reports for status(), adds their metrics to
// the host's on each scrape, replaces a worker that died, and drains them all on stop().
import { AggregatorRegistry } from "prom-client";
import { isIP } from "node:net";
import type { Worker as Thread } from "node:worker_threads";
import { startTsWorker } from "./ts-worker.ts";
import type { HttpProxySettings } from "../config/http-proxy-settings.ts";
import { connectionCountBytes, releaseThreadConnections } from "../http-proxy/connection-count.ts";
import type { ProxyStats } from "../http-proxy/proxy-server.ts";
import { errorName, probeBind } from "../net/raw-tcp.ts";
import type { ActivitySnapshot } from "../observe/activity.ts";
import type { MetricFamilies } from "../observe/metrics.ts";
import type { Service, ServiceHost } from "../observe/service.ts";
import { version } from "../version.ts";
import type { HttpPolicy } from "../policy/http-policy.ts";
import { listenProblem, newViaToken, statusOf, zeroStats } from "./http-proxy-status.ts";
import type {
  FromWorker,
  ToWorker,
  WorkerData,
  WorkerPolicy,
  WorkerReport,
} from "./worker-protocol.ts";

const workerUrl = new URL("./http-proxy-worker.ts", import.meta.url);
/** a worker that does not answer a command in this long is considered broken */
const COMMAND_TIMEOUT_MS = 10_000;
/** a scrape does not wait longer than this for a worker's metrics (its last report serves) */
const METRICS_TIMEOUT_MS = 2_000;
const RESTART_DELAY_MS = 1_000;

interface Waiter {
  match(m: FromWorker): boolean;
  fail(err: Error): void;
}

interface Slot {
  readonly index: number;
  readonly thread: Thread;
  exited: boolean;
  listening: boolean;
  stopping: boolean;
  /** it ended unexpectedly and what it counted moved to the retired totals */
  retired: boolean;
  /** the latest report (every second, and the last one when it stopped) */
  report: WorkerReport | undefined;
  /** its latest activity and metrics (a report leaves them out when they did not change) */
  activity: ActivitySnapshot | undefined;
  metrics: MetricFamilies | undefined;
  waiters: Waiter[];
}

/** The service, and (for tests) its threads as they are now. */
export type WorkerService = Service<HttpPolicy> & { readonly threads: readonly Thread[] };

/** A report's gauges (connections open now) mean nothing once its thread is gone. */
function withoutGauges(m: MetricFamilies): MetricFamilies {
  return m.map((x) => (String(x.type) === "gauge" ? { ...x, values: [] } : x));
}

/** Without a host (tests): JSON lines on stdout at info level. */
const defaultHost: ServiceHost = {
  log: { format: "json", level: "info", dnsProxyDebug: false },
  version,
};

/** One worker thread per CPU, sharing the port. */
export function workerService(
  s: HttpProxySettings,
  initial: HttpPolicy,
  host: ServiceHost = defaultHost,
): WorkerService {
  let policy = initial;
  let generation = 1;
  let port = s.port;
  let stopping = false;
  let restarts = 0;
  let nextRequest = 1;
  const viaToken = newViaToken();
  const connections = new SharedArrayBuffer(connectionCountBytes(s.workers));
  const slots: Slot[] = [];
  const data: Omit<WorkerData, "index"> = { settings: s, host, viaToken, connections };
  /** what workers that died had counted: their metrics (gauges dropped) and totals */
  let retiredMetrics: Promise<MetricFamilies | undefined> = Promise.resolve(undefined);
  let retiredStats: ProxyStats | undefined;

  const workerPolicy = (): WorkerPolicy => ({
    rules: policy.rules,
    connectPorts: policy.connectPorts,
    generation,
  });

  const sendTo = (w: Slot, m: ToWorker) => {
    if (!w.exited) w.thread.postMessage(m);
  };

  const waitFor = (w: Slot, match: (m: FromWorker) => boolean, ms = COMMAND_TIMEOUT_MS) =>
    new Promise<FromWorker>((resolve, reject) => {
      if (w.exited) return reject(new Error(`http-proxy worker ${w.index} has exited`));
      const waiter: Waiter = {
        match(m) {
          if (!match(m)) return false;
          clearTimeout(timer);
          resolve(m);
          return true;
        },
        fail(err) {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        w.waiters = w.waiters.filter((x) => x !== waiter);
        reject(new Error(`http-proxy worker ${w.index} did not answer`));
      }, ms);
      w.waiters.push(waiter);
    });

  const onWorkerMessage = (w: Slot, m: FromWorker) => {
    switch (m.type) {
      case "report":
        keep(w, m.report);
        break;
      case "stopped":
        if (m.report) keep(w, m.report);
        break;
      case "listening":
        w.listening = true;
        break;
      case "listen-failed":
      case "applied":
      case "metrics":
        break;
    }
    w.waiters = w.waiters.filter((x) => !x.match(m));
  };

  const keep = (w: Slot, r: WorkerReport) => {
    w.report = r;
    if (r.activity) w.activity = r.activity;
    if (r.metrics) w.metrics = r.metrics;
  };

  /** A worker ended without being asked: keep what it counted, free what it held. */
  const retire = (w: Slot) => {
    w.retired = true;
    releaseThreadConnections(connections, w.index);
    const r = w.report;
    if (r === undefined || w.metrics === undefined) return;
    const metrics = withoutGauges(w.metrics);
    retiredMetrics = retiredMetrics.then(async (before) =>
      before === undefined
        ? metrics
        : await AggregatorRegistry.aggregate([before, metrics] as object[]).getMetricsAsJSON(),
    );
    const b = retiredStats ?? zeroStats(policy.rules.length);
    const sameRules = r.generation === generation;
    retiredStats = {
      ...b,
      requests: b.requests + r.stats.requests,
      tunnelsOpened: b.tunnelsOpened + r.stats.tunnelsOpened,
      denied: b.denied + r.stats.denied,
      audited: b.audited + r.stats.audited,
      rejected: b.rejected + r.stats.rejected,
      refusedAtLimit: b.refusedAtLimit + r.stats.refusedAtLimit,
      generation,
      hits: b.hits.map((h, i) => h + (sameRules ? (r.stats.hits[i] ?? 0) : 0)),
    };
  };

  const spawn = (index: number): Slot => {
    const thread = startTsWorker(workerUrl, { ...data, index });
    const w: Slot = {
      index,
      thread,
      exited: false,
      listening: false,
      stopping: false,
      retired: false,
      report: undefined,
      activity: undefined,
      metrics: undefined,
      waiters: [],
    };
    thread.on("message", (m: FromWorker) => onWorkerMessage(w, m));
    thread.on("error", (err: Error) => {
      process.stderr.write(
        `egress-router: http-proxy worker ${index} failed: ${err.stack ?? err.message}\n`,
      );
    });
    thread.on("exit", (code) => {
      w.exited = true;
      w.listening = false;
      for (const x of w.waiters) x.fail(new Error(`http-proxy worker ${index} exited`));
      w.waiters = [];
      if (stopping || w.stopping) return;
      // An unexpected end: its connections are lost; keep the port served by a new one.
      restarts++;
      retire(w);
      process.stderr.write(
        `egress-router: http-proxy worker ${index} exited (code ${code}); starting a new one\n`,
      );
      setTimeout(() => {
        if (stopping) return;
        const next = spawn(index);
        slots[index] = next;
        void start(next).catch((err: unknown) => {
          process.stderr.write(`egress-router: http-proxy worker ${index}: ${String(err)}\n`);
        });
      }, RESTART_DELAY_MS).unref();
    });
    return w;
  };

  const start = async (w: Slot): Promise<void> => {
    const answer = waitFor(w, (m) => m.type === "listening" || m.type === "listen-failed");
    sendTo(w, { type: "start", policy: workerPolicy(), port });
    const m = await answer;
    if (m.type === "listen-failed") throw listenProblem(s, m.code, m.message);
    if (m.type === "listening") port = m.port;
  };

  const metricsOf = async (w: Slot): Promise<MetricFamilies | undefined> => {
    if (w.exited) return w.metrics;
    const id = nextRequest++;
    const answer = waitFor(w, (m) => m.type === "metrics" && m.id === id, METRICS_TIMEOUT_MS);
    sendTo(w, { type: "metrics", id });
    try {
      const m = await answer;
      return m.type === "metrics" ? m.metrics : undefined;
    } catch {
      return w.metrics;
    }
  };

  return {
    get threads() {
      return slots.map((w) => w.thread);
    },
    async start() {
      // The workers bind with SO_REUSEPORT, which would let them share a port another
      // program of the same user listens on; a plain bind first finds it taken.
      if (port !== 0) {
        const err = probeBind(s.address, port, isIP(s.address) === 6 ? 6 : 4, false);
        if (err !== 0 && errorName(err) === "EADDRINUSE") {
          throw listenProblem(s, "EADDRINUSE", "EADDRINUSE");
        }
      }
      try {
        // The first worker alone, so that with port 0 the others learn which port it got.
        const first = spawn(0);
        slots.push(first);
        await start(first);
        const rest: Slot[] = [];
        for (let i = 1; i < s.workers; i++) {
          const w = spawn(i);
          slots.push(w);
          rest.push(w);
        }
        await Promise.all(rest.map(start));
      } catch (err) {
        stopping = true;
        await Promise.all(slots.map((w) => w.thread.terminate()));
        throw err;
      }
    },
    async apply(next) {
      policy = next;
      generation++;
      if (retiredStats)
        retiredStats = { ...retiredStats, generation, hits: zeroStats(next.rules.length).hits };
      const p = workerPolicy();
      await Promise.all(
        slots
          .filter((w) => !w.exited)
          .map((w) => {
            const done = waitFor(w, (m) => m.type === "applied" && m.generation === p.generation);
            sendTo(w, { type: "policy", policy: p });
            return done;
          }),
      );
    },
    async stop(drainMs) {
      stopping = true;
      await Promise.all(
        slots.map(async (w) => {
          if (w.exited) return;
          w.stopping = true;
          const exited = new Promise<void>((resolve) => w.thread.once("exit", () => resolve()));
          sendTo(w, { type: "stop", drainMs });
          const killer = setTimeout(() => void w.thread.terminate(), drainMs + 5_000);
          await exited;
          clearTimeout(killer);
        }),
      );
    },
    status() {
      const stats: ProxyStats[] = [];
      for (const w of slots) {
        const r = w.report;
        if (r === undefined || w.retired) continue;
        // Rule hits count for the rules they were counted under.
        stats.push(r.generation === generation ? r.stats : { ...r.stats, hits: [] });
      }
      if (retiredStats) stats.push(retiredStats);
      // The port is served while any worker listens: the kernel gives a dead worker's
      // share of new connections to the others. Readiness must not flap during a restart.
      const up = slots.some((w) => w.listening);
      return statusOf(s, port, up, policy, stats, {
        workers: slots.length,
        workersListening: slots.filter((w) => w.listening).length,
        workerRestarts: restarts,
      });
    },
    async metricFamilies() {
      const all = await Promise.all(slots.map(metricsOf));
      const retired = await retiredMetrics;
      const out = all.filter((m) => m !== undefined);
      if (retired) out.push(retired);
      return out;
    },
    threadActivity() {
      const out: ActivitySnapshot[] = [];
      for (const w of slots) if (w.activity && !w.retired) out.push(w.activity);
      return out;
    },
  };
}

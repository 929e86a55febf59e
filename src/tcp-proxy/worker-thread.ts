// Entry of a forwarding worker thread: one ForwardEngine on the same ports as the other
// workers (SO_REUSEPORT: the kernel spreads new connections over the threads), with pools
// mirrored from the main thread. Like the daemon for the main thread, this entry is the
// host of its thread: it sets up the thread's logs, and the engine counts the thread's
// connection metrics itself (connection-counts.ts), handed over when /metrics is read.
import { parentPort, workerData } from "node:worker_threads";
import { observeThread } from "../observe/thread-observer.ts";
import { ConnectionCounts } from "./connection-counts.ts";
import { ConnectionLimit } from "./connection-limit.ts";
import type { PoolSource } from "./forward-engine.ts";
import { ForwardEngine } from "./forward-engine.ts";
import { UpstreamPool } from "./upstream-pool.ts";
import type { FromWorker, ToWorker, WorkerData } from "./worker-protocol.ts";
import type { UpstreamErrorKind } from "../observe/events.ts";

const port = parentPort;
if (port === null) throw new Error("worker-thread.ts runs as a worker thread only");
const data = workerData as WorkerData;
const { options } = data;

const send = (m: FromWorker): void => {
  port.postMessage(m);
};

const pools = new Map<string, UpstreamPool>();
const empty = new Map<string, { kind: UpstreamErrorKind; message: string }>();

const source: PoolSource = {
  pool: (key) => pools.get(key),
  emptyReason: (key) => empty.get(key) ?? { kind: "no-address", message: `${key}: no address` },
  failed: (key, u) => {
    send({ t: "report", key, address: u.address, error: u.lastError ?? "failed" });
  },
  succeeded: (key, u) => {
    send({ t: "report", key, address: u.address, error: undefined });
  },
};

const engine = new ForwardEngine(
  options,
  source,
  new ConnectionLimit(options.maxConnections, data.limit),
  true,
  new ConnectionCounts(),
);

// Log lines of this thread's own connections (observe/thread-observer.ts): the engine
// publishes connection events only when a line per connection is written.
const observer = data.observe ? observeThread(data.observe) : undefined;
engine.connectionLines = observer?.wantsClients ?? false;
engine.clientAddresses = engine.connectionLines;

function reply(id: number, work: Promise<unknown>): void {
  work.then(
    () => {
      send({ t: "reply", id, error: undefined, stats: undefined });
    },
    (err: unknown) => {
      send({
        t: "reply",
        id,
        error: err instanceof Error ? err.message : String(err),
        stats: undefined,
      });
    },
  );
}

port.on("message", (m: ToWorker) => {
  switch (m.t) {
    case "apply":
      reply(m.id, engine.apply(m.rules));
      break;
    case "pool": {
      let pool = pools.get(m.key);
      if (!pool) {
        pool = new UpstreamPool(m.key, m.port, options.balance, options.healthCheck.intervalMs > 0);
        pools.set(m.key, pool);
      }
      pool.applyStates(m.states);
      empty.set(m.key, m.empty);
      break;
    }
    case "drop-pool":
      pools.delete(m.key);
      empty.delete(m.key);
      break;
    case "stop-accepting":
      reply(m.id, engine.stopAccepting());
      break;
    case "when-idle":
      reply(m.id, engine.whenIdle());
      break;
    case "close-all":
      engine.closeAll(m.reason);
      reply(
        m.id,
        engine.whenIdle().then(() => observer?.flush()),
      );
      break;
    case "stats":
      send({ t: "reply", id: m.id, error: undefined, stats: engine.stats() });
      break;
    case "metrics":
      send({
        t: "reply",
        id: m.id,
        error: undefined,
        stats: undefined,
        metrics: engine.counts?.families() ?? [],
      });
      break;
  }
});

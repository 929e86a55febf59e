// The main thread's handle on the forwarding worker threads: starts them, sends them rules
// and pool states, passes their connect reports on, restarts one that died, and collects
// their statistics (status page) and connection metrics (/metrics).
import type { Worker } from "node:worker_threads";
import { startTsWorker } from "../service/ts-worker.ts";
import type { CloseReason } from "../observe/events.ts";
import type { MetricFamilies } from "../observe/metrics.ts";
import type { ThreadObserveOptions } from "../observe/thread-observer.ts";
import type { EngineStats } from "./forward-engine.ts";
import type { ForwardOptions, ForwardRule } from "./forward-config.ts";
import type { FromWorker, ToWorker, WorkerData } from "./worker-protocol.ts";

type Request = ToWorker & { id: number };
type RequestBody = Request extends infer R
  ? R extends { id: number }
    ? Omit<R, "id">
    : never
  : never;

interface Slot {
  worker: Worker | undefined;
  pending: Map<number, { resolve: (m: FromWorker & { t: "reply" }) => void }>;
  stats: EngineStats | undefined;
  /** the worker's connection metrics as last read (kept when it dies: its counts stay counted) */
  metrics: MetricFamilies | undefined;
  restarts: number;
}

const workerUrl = new URL("./worker-thread.ts", import.meta.url);

export class ForwardWorkers {
  readonly #data: WorkerData;
  readonly #onReport: (key: string, address: string, error: string | undefined) => void;
  readonly #slots: Slot[];
  /** replayed to a restarted worker */
  readonly #pools = new Map<string, ToWorker & { t: "pool" }>();
  #rules: readonly ForwardRule[] = [];
  /** counters and histograms of workers that died, as last read */
  #retired: MetricFamilies[] = [];
  #nextId = 1;
  #stopping = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    count: number,
    options: ForwardOptions,
    limit: SharedArrayBuffer,
    onReport: (key: string, address: string, error: string | undefined) => void,
    observe?: ThreadObserveOptions,
  ) {
    this.#data = { options, limit, observe };
    this.#onReport = onReport;
    this.#slots = Array.from({ length: count }, () => ({
      worker: undefined,
      pending: new Map(),
      stats: undefined,
      metrics: undefined,
      restarts: 0,
    }));
  }

  get count(): number {
    return this.#slots.length;
  }

  get restarts(): number {
    return this.#slots.reduce((n, s) => n + s.restarts, 0);
  }

  /** The worker threads (undefined while one is being replaced), for diagnostics and tests. */
  get threads(): readonly (Worker | undefined)[] {
    return this.#slots.map((s) => s.worker);
  }

  async start(): Promise<void> {
    await Promise.all(this.#slots.map((s) => this.#spawn(s)));
    // Keep statistics current (status() must answer synchronously).
    this.#timer = setInterval(() => {
      void this.refreshStats();
    }, 1000);
    this.#timer.unref();
  }

  async apply(rules: readonly ForwardRule[]): Promise<void> {
    const previous = this.#rules;
    this.#rules = rules;
    const errors = await this.#all({ t: "apply", rules });
    if (errors.length > 0) {
      this.#rules = previous;
      await this.#all({ t: "apply", rules: previous });
      throw new Error(errors[0]);
    }
  }

  pool(m: ToWorker & { t: "pool" }): void {
    this.#pools.set(m.key, m);
    for (const s of this.#slots) s.worker?.postMessage(m);
  }

  dropPool(key: string): void {
    this.#pools.delete(key);
    for (const s of this.#slots) s.worker?.postMessage({ t: "drop-pool", key } satisfies ToWorker);
  }

  async stopAccepting(): Promise<void> {
    await this.#all({ t: "stop-accepting" });
  }

  async whenIdle(): Promise<void> {
    await this.#all({ t: "when-idle" });
  }

  async closeAll(reason: CloseReason): Promise<void> {
    await this.#all({ t: "close-all", reason });
  }

  async refreshStats(): Promise<void> {
    await Promise.all(
      this.#slots.map(async (s) => {
        const r = await this.#request(s, { t: "stats" });
        if (r?.stats) s.stats = r.stats;
      }),
    );
  }

  stats(): EngineStats[] {
    return this.#slots.flatMap((s) => (s.stats ? [s.stats] : []));
  }

  /**
   * Every worker's connection metrics now, plus the counters of workers that died (as last
   * read), to be summed with the main thread's.
   */
  async metricFamilies(): Promise<MetricFamilies[]> {
    const live = await Promise.all(
      this.#slots.map(async (s) => {
        const r = await this.#request(s, { t: "metrics" });
        if (r?.metrics) s.metrics = r.metrics;
        return r?.metrics;
      }),
    );
    return [...live.filter((m) => m !== undefined), ...this.#retired];
  }

  async terminate(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#timer);
    await Promise.all(
      this.#slots.map(async (s) => {
        await s.worker?.terminate();
      }),
    );
  }

  #spawn(slot: Slot): Promise<void> {
    const worker = startTsWorker(workerUrl, this.#data);
    slot.worker = worker;
    worker.on("message", (m: FromWorker) => {
      this.#receive(slot, m);
    });
    worker.on("error", () => undefined); // followed by "exit", handled there
    worker.on("exit", () => {
      for (const p of slot.pending.values()) {
        p.resolve({ t: "reply", id: 0, error: "worker thread exited", stats: undefined });
      }
      slot.pending.clear();
      slot.worker = undefined;
      slot.stats = undefined;
      // What it counted stays counted (a gauge of its open connections does not: they are gone).
      if (slot.metrics) this.#retired.push(slot.metrics.filter((m) => String(m.type) !== "gauge"));
      slot.metrics = undefined;
      if (this.#stopping) return;
      // A worker died (a bug): its connections are gone, the others carry on. Replace it.
      slot.restarts += 1;
      setTimeout(() => {
        if (!this.#stopping) void this.#spawn(slot).catch(() => undefined);
      }, 1000).unref();
    });
    return new Promise<void>((resolve, reject) => {
      worker.once("online", () => {
        for (const m of this.#pools.values()) worker.postMessage(m);
        if (this.#rules.length === 0) {
          resolve();
          return;
        }
        void this.#request(slot, { t: "apply", rules: this.#rules }).then(async (r) => {
          if (r?.error !== undefined) {
            reject(new Error(r.error));
            return;
          }
          // Listening again: let the status (readiness) see it now, not at the next refresh.
          const stats = await this.#request(slot, { t: "stats" });
          if (stats?.stats) slot.stats = stats.stats;
          resolve();
        });
      });
      worker.once("exit", (code) => {
        reject(new Error(`forwarding thread exited at start (code ${code})`));
      });
    });
  }

  #receive(slot: Slot, m: FromWorker): void {
    switch (m.t) {
      case "reply": {
        const p = slot.pending.get(m.id);
        slot.pending.delete(m.id);
        p?.resolve(m);
        break;
      }
      case "report":
        this.#onReport(m.key, m.address, m.error);
        break;
    }
  }

  #request(slot: Slot, body: RequestBody): Promise<(FromWorker & { t: "reply" }) | undefined> {
    const w = slot.worker;
    if (!w) return Promise.resolve(undefined);
    const id = this.#nextId++;
    return new Promise((resolve) => {
      slot.pending.set(id, { resolve });
      w.postMessage({ ...body, id });
    });
  }

  async #all(body: RequestBody): Promise<string[]> {
    const replies = await Promise.all(this.#slots.map((s) => this.#request(s, body)));
    return replies.flatMap((r) => (r?.error === undefined ? [] : [r.error]));
  }
}

// A worker process of the HTTP proxy: one proxy listening with SO_REUSEPORT on the shared
// port. It takes its configuration from the primary over IPC, reports its counters each
// second, and relays the data path's events in batches to the primary, where the logs,
// metrics and status page subscribe. Signals are the primary's business: a Ctrl-C sent to
// the whole process group must not cut this worker's connections before the drain.
import diagnostics_channel from "node:diagnostics_channel";
import { createHttpProxy, type HttpProxy } from "../http-proxy/proxy-server.ts";
import { createResolver } from "../net/resolver.ts";
import { compileHttpPolicy } from "../policy/http-policy.ts";
import type { FromWorker, ToWorker, WorkerPolicy } from "./worker-protocol.ts";

const FLUSH_MS = 50;
const MAX_BATCH = 1000;

function send(m: FromWorker): void {
  if (process.connected) process.send?.(m);
}

function compile(p: WorkerPolicy) {
  return compileHttpPolicy(p.rules, { connectPorts: p.connectPorts });
}

let proxy: HttpProxy | undefined;
let generation = 0;
/** name, message, name, message, … (flat: no pair allocated per event) */
let batch: unknown[] = [];
let flushTimer: NodeJS.Timeout | undefined;
const subscribed = new Map<string, (m: unknown) => void>();

function flush(): void {
  flushTimer = undefined;
  if (batch.length === 0) return;
  const events = batch;
  batch = [];
  send({ type: "events", events });
}

function relay(names: readonly string[]): void {
  for (const [name, fn] of subscribed) {
    if (names.includes(name)) continue;
    diagnostics_channel.unsubscribe(`egress-router:${name}`, fn);
    subscribed.delete(name);
  }
  for (const name of names) {
    if (subscribed.has(name)) continue;
    const fn = (m: unknown) => {
      batch.push(name, m);
      if (batch.length >= 2 * MAX_BATCH) flush();
      else flushTimer ??= setTimeout(flush, FLUSH_MS);
    };
    diagnostics_channel.subscribe(`egress-router:${name}`, fn);
    subscribed.set(name, fn);
  }
}

async function onMessage(m: ToWorker): Promise<void> {
  switch (m.type) {
    case "start": {
      const s = m.settings;
      relay(m.relay);
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
        maxConnections: Math.max(1, Math.ceil(s.maxConnections / s.workers)),
        maxHeaderBytes: s.maxHeaderBytes,
        viaToken: m.viaToken,
        listenerName: String(s.port),
      });
      try {
        const a = await proxy.listen({ host: s.address, port: m.port, reusePort: true });
        send({ type: "listening", port: a.port });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        send({ type: "listen-failed", code: e.code ?? "EUNKNOWN", message: e.message });
      }
      setInterval(() => {
        if (proxy) send({ type: "stats", generation, stats: proxy.stats() });
      }, 1000).unref();
      return;
    }
    case "policy":
      proxy?.setPolicy(compile(m.policy));
      generation = m.policy.generation;
      send({ type: "applied", generation });
      if (proxy) send({ type: "stats", generation, stats: proxy.stats() });
      return;
    case "relay":
      relay(m.relay);
      return;
    case "stop":
      await proxy?.close(m.drainMs);
      flush();
      if (proxy) send({ type: "stats", generation, stats: proxy.stats() });
      send({ type: "stopped" });
      process.disconnect();
      return;
  }
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => {});
process.on("message", (m: ToWorker) => {
  onMessage(m).catch((err: unknown) => {
    process.stderr.write(`egress-router http-proxy worker: ${String(err)}\n`);
  });
});
// The primary is gone (crashed or killed): nobody can drain us; stop now.
process.on("disconnect", () => {
  void proxy?.close(0);
});

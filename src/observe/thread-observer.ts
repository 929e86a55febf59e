// Observability of a thread that forwards connections on its own (a DNS-proxy worker
// thread): its own log lines, written straight to stdout like the main thread's (whole
// lines, atomic writes: threads never mix inside a line). Such a thread counts its
// connection metrics itself (tcp-proxy/connection-counts.ts); the main thread adds them to
// its own when /metrics is read. Nothing crosses between threads per connection.
import type { Logger, LogOptions } from "./log.ts";
import { createLogger, logEvent, subscribeLogs } from "./log.ts";
import { createLineWriter } from "./line-writer.ts";
import type { LineWriter } from "./line-writer.ts";
import type { MetricFamilies } from "./metrics.ts";
import { connectionMetricNames, createMetrics } from "./metrics.ts";

/** What a thread needs to know to log and count as the main thread does (plain data). */
export interface ThreadObserveOptions {
  readonly log: Pick<LogOptions, "format" | "level" | "dnsProxyDebug" | "colour">;
  readonly version: string;
  readonly mode: string;
  /**
   * Count this thread's connection metrics from its events, in a registry of its own (the
   * same plain series as the main thread's: observe/plain-metrics.ts). The HTTP proxy's
   * threads do; the DNS proxy's engine counts its connections directly
   * (tcp-proxy/connection-counts.ts) and publishes no events for metrics.
   */
  readonly countMetrics?: boolean;
}

export interface ThreadObserver {
  readonly logger: Logger;
  /**
   * True when this thread's lines name each connection's client (a line per connection
   * is written): only then is the client's address worth a system call per connection.
   */
  readonly wantsClients: boolean;
  /** With `countMetrics`: this thread's connection metrics, to add to the main thread's. */
  metricFamilies(): Promise<MetricFamilies>;
  /** Writes the lines still waiting (before the thread ends). */
  flush(): void;
  close(): void;
}

export function observeThread(options: ThreadObserveOptions): ThreadObserver {
  const writer: LineWriter = createLineWriter({
    onDropped: (count) => {
      logEvent(logger, "warn", "log lines dropped", { dropped: count });
    },
  });
  const logger = createLogger({ ...options.log, destination: writer });
  const unsubscribe = subscribeLogs(logger, { dnsProxyDebug: options.log.dnsProxyDebug });
  const metrics = options.countMetrics
    ? createMetrics({ version: options.version, mode: options.mode }, { processMetrics: false })
    : undefined;
  return {
    logger,
    wantsClients: logger.isLevelEnabled(options.log.dnsProxyDebug ? "info" : "debug"),
    async metricFamilies() {
      if (!metrics) return [];
      const all = await metrics.registry.getMetricsAsJSON();
      return all.filter((m) => connectionMetricNames.includes(m.name));
    },
    flush() {
      writer.flush();
    },
    close() {
      unsubscribe();
      metrics?.close();
      writer.flush();
    },
  };
}

// Observability of a thread that forwards connections on its own (a DNS-proxy worker
// thread): its own log lines, written straight to stdout like the main thread's (whole
// lines, atomic writes: threads never mix inside a line). Such a thread counts its
// connection metrics itself (tcp-proxy/connection-counts.ts); the main thread adds them to
// its own when /metrics is read. Nothing crosses between threads per connection.
import type { Logger, LogOptions } from "./log.ts";
import { createLogger, logEvent, subscribeLogs } from "./log.ts";
import { createLineWriter } from "./line-writer.ts";
import type { LineWriter } from "./line-writer.ts";

/** What a thread needs to know to log and count as the main thread does (plain data). */
export interface ThreadObserveOptions {
  readonly log: Pick<LogOptions, "format" | "level" | "dnsProxyDebug" | "colour">;
  readonly version: string;
  readonly mode: string;
}

export interface ThreadObserver {
  readonly logger: Logger;
  /**
   * True when this thread's lines name each connection's client (a line per connection
   * is written): only then is the client's address worth a system call per connection.
   */
  readonly wantsClients: boolean;
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
  return {
    logger,
    wantsClients: logger.isLevelEnabled(options.log.dnsProxyDebug ? "info" : "debug"),
    flush() {
      writer.flush();
    },
    close() {
      unsubscribe();
      writer.flush();
    },
  };
}

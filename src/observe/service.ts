// The contract between a long-running mode (HTTP proxy, DNS proxy, legacy redirect) and the
// daemon host that runs it (admin server, readiness, reload watcher, signals, logs, metrics).
// A mode compiles its rule text into a value `C` with a pure function, and a Service applies
// compiled values. The host owns files, signals and timers; the service owns its sockets.
import type { ActivitySnapshot } from "./activity.ts";
import type { LogOptions } from "./log.ts";
import type { MetricsJson } from "./metrics.ts";

/** A status snapshot for the status page and `/status.json`; plain JSON only. */
export interface ServiceStatus {
  readonly mode: string;
  readonly listeners: readonly {
    readonly address: string;
    readonly port: number;
    readonly up: boolean;
  }[];
  readonly activeConnections: number;
  /** one entry per rule line, in order, with its hit counter */
  readonly rules: readonly {
    readonly line: number;
    readonly text: string;
    readonly hits: number;
    /** DNS proxy: the current addresses of a named target and their health */
    readonly addresses?: readonly { readonly address: string; readonly up: boolean }[];
  }[];
  readonly [extra: string]: unknown;
}

export interface Service<C> {
  /** Opens every listener; resolves once all are up (then the host reports ready). */
  start(): Promise<void>;
  /** Swaps in a newly compiled config. New connections use it; open ones keep theirs. */
  apply(config: C): Promise<void>;
  /** Stops accepting at once, waits up to `drainMs` for open connections, then closes the rest. */
  stop(drainMs: number): Promise<void>;
  status(): ServiceStatus;
  /**
   * A service whose data path runs on threads of its own: the metrics those threads count
   * (prom-client JSON, one array per thread), for the host to add to its registry's.
   */
  threadMetrics?(): Promise<readonly MetricsJson[]>;
  /** Such a service's recent activity, seen by its threads (bounded, at most a second old). */
  threadActivity?(): readonly ActivitySnapshot[];
}

/** What the host tells a service it creates: how it logs (threads make their own loggers). */
export interface ServiceHost {
  readonly log: LogOptions;
}

/** How a mode is wired into the daemon host. */
export interface ModeDefinition<C> {
  readonly mode: string;
  /** the setting whose text (env or file) holds this mode's rules, e.g. `EGRESS_HTTP_PROXY_DESTINATION` */
  readonly rulesSetting: string;
  /** pure: rule text → compiled config; throws ConfigError with every problem */
  compile(text: string): C;
  /** `host` is absent when a test creates the service without a host */
  create(config: C, host?: ServiceHost): Service<C>;
}

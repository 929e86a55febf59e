// The contract between a long-running mode (HTTP proxy, DNS proxy, legacy redirect) and the
// daemon host that runs it (admin server, readiness, reload watcher, signals, logs, metrics).
// A mode compiles its rule text into a value `C` with a pure function, and a Service applies
// compiled values. The host owns files, signals and timers; the service owns its sockets.
import type { ActivitySnapshot } from "./activity.ts";
import type { LogOptions } from "./log.ts";
import type { MetricFamilies } from "./metrics.ts";

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
  /**
   * The connections open now, when the service tracks them itself (its connections are
   * handled on threads whose events the host does not see); otherwise the host's own.
   */
  readonly openConnections?: ActivitySnapshot["openConnections"];
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
   * Connection metrics counted on the service's other threads, to be added to the host's
   * (see renderMetrics); absent when everything happens on the host's thread.
   */
  metricFamilies?(): Promise<MetricFamilies[]>;
  /**
   * The recent activity seen on the service's other threads (denials, open connections,
   * names; bounded, at most a second old), to be merged with the host's own.
   */
  threadActivity?(): readonly ActivitySnapshot[];
}

/** What the host tells a service it creates: how to log, so other threads log alike. */
export interface ServiceHost {
  readonly log: Pick<LogOptions, "format" | "level" | "dnsProxyDebug" | "colour">;
  readonly version: string;
}

/** How a mode is wired into the daemon host. */
export interface ModeDefinition<C> {
  readonly mode: string;
  /** the setting whose text (env or file) holds this mode's rules, e.g. `EGRESS_HTTP_PROXY_DESTINATION` */
  readonly rulesSetting: string;
  /** pure: rule text → compiled config; throws ConfigError with every problem */
  compile(text: string): C;
  create(config: C, host?: ServiceHost): Service<C>;
  /** what is accepted in `config` but probably not meant (logged with "config applied") */
  warnings?(config: C): string[];
}

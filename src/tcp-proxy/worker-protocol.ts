// Messages between the main thread and the forwarding worker threads. The main thread owns
// DNS, health and the rules; workers accept and forward, mirror the pools, report connect
// outcomes, and log and count their own connections (the main thread asks for the counts
// when /metrics is read). Nothing crosses per connection.
import type { CloseReason, UpstreamErrorKind } from "../observe/events.ts";
import type { MetricFamilies } from "../observe/metrics.ts";
import type { ThreadObserveOptions } from "../observe/thread-observer.ts";
import type { EngineStats } from "./forward-engine.ts";
import type { ForwardOptions, ForwardRule } from "./forward-config.ts";
import type { UpstreamState } from "./upstream-pool.ts";

export interface WorkerData {
  readonly options: ForwardOptions;
  /** the shared connection counter */
  readonly limit: SharedArrayBuffer;
  /** how to log and count, as the main thread does; undefined: neither (tests) */
  readonly observe: ThreadObserveOptions | undefined;
}

export type ToWorker =
  | { readonly t: "apply"; readonly id: number; readonly rules: readonly ForwardRule[] }
  | {
      readonly t: "pool";
      readonly key: string;
      readonly port: number;
      readonly states: readonly UpstreamState[];
      readonly empty: { readonly kind: UpstreamErrorKind; readonly message: string };
    }
  | { readonly t: "drop-pool"; readonly key: string }
  | { readonly t: "stop-accepting"; readonly id: number }
  | { readonly t: "when-idle"; readonly id: number }
  | { readonly t: "close-all"; readonly id: number; readonly reason: CloseReason }
  | { readonly t: "stats"; readonly id: number }
  | { readonly t: "metrics"; readonly id: number };

export type FromWorker =
  | {
      readonly t: "reply";
      readonly id: number;
      readonly error: string | undefined;
      readonly stats: EngineStats | undefined;
      readonly metrics?: MetricFamilies;
    }
  | {
      readonly t: "report";
      readonly key: string;
      readonly address: string;
      /** undefined: it connected again */
      readonly error: string | undefined;
    };

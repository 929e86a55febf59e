// Messages between the main thread and the forwarding worker threads. The main thread owns
// DNS, health and the rules; workers accept and forward, mirror the pools, report connect
// outcomes, and pass their data-path events on to the main thread's channels.
import type { CloseReason, UpstreamErrorKind } from "../observe/events.ts";
import type { EngineStats } from "./forward-engine.ts";
import type { ForwardOptions, ForwardRule } from "./forward-config.ts";
import type { UpstreamState } from "./upstream-pool.ts";

export interface WorkerData {
  readonly options: ForwardOptions;
  /** the shared connection counter */
  readonly limit: SharedArrayBuffer;
}

import type { ForwardedChannel } from "./event-batch.ts";

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
  | { readonly t: "subscribe"; readonly channels: readonly ForwardedChannel[] }
  | { readonly t: "stop-accepting"; readonly id: number }
  | { readonly t: "when-idle"; readonly id: number }
  | { readonly t: "close-all"; readonly id: number; readonly reason: CloseReason }
  | { readonly t: "stats"; readonly id: number };

export type FromWorker =
  | {
      readonly t: "reply";
      readonly id: number;
      readonly error: string | undefined;
      readonly stats: EngineStats | undefined;
    }
  | {
      readonly t: "report";
      readonly key: string;
      readonly address: string;
      /** undefined: it connected again */
      readonly error: string | undefined;
    }
  /** EventBatch.take(): the events published in the worker since the last batch */
  | { readonly t: "events"; readonly batch: string };

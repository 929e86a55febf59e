// Messages between the HTTP proxy's primary process and its workers (node IPC, structured
// clone). The primary owns the configuration and the observers; a worker owns its sockets.
import type { HttpProxySettings } from "../config/http-proxy-settings.ts";
import type { HttpRule } from "../config/types.ts";
import type { ProxyStats } from "../http-proxy/proxy-server.ts";
import type { PortRange } from "../policy/http-policy.ts";

export interface WorkerPolicy {
  readonly rules: readonly HttpRule[];
  readonly connectPorts: readonly PortRange[] | undefined;
  readonly generation: number;
}

export type ToWorker =
  | {
      readonly type: "start";
      readonly settings: HttpProxySettings;
      readonly policy: WorkerPolicy;
      /** the port to listen on (the first worker's, when the configured port is 0) */
      readonly port: number;
      readonly viaToken: string;
      /** diagnostics channels the primary has observers on: only these are relayed */
      readonly relay: readonly string[];
    }
  | { readonly type: "policy"; readonly policy: WorkerPolicy }
  | { readonly type: "relay"; readonly relay: readonly string[] }
  | { readonly type: "stop"; readonly drainMs: number };

export type FromWorker =
  | { readonly type: "listening"; readonly port: number }
  | { readonly type: "listen-failed"; readonly code: string; readonly message: string }
  | { readonly type: "applied"; readonly generation: number }
  | { readonly type: "stats"; readonly generation: number; readonly stats: ProxyStats }
  /** channel name, message, channel name, message, … in the order they were published */
  | { readonly type: "events"; readonly events: readonly unknown[] }
  | { readonly type: "stopped" };

/** Channel names (egress-router:<name>) a worker may relay: the data path's events. */
export const relayableChannels = [
  "decision",
  "connection-open",
  "connection-close",
  "upstream-error",
  "connect-latency",
  "request",
  "resolve",
] as const;

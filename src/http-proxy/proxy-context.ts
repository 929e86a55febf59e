// What every connection of one proxy instance shares: its options, the current policy
// snapshot with its hit counters, the upstream pool, the live connections and a coarse clock.
import type { Clock } from "../net/raw-splice.ts";
import type { Resolver } from "../net/resolver.ts";
import type { HttpRule } from "../config/types.ts";
import type { HttpPolicy } from "../policy/http-policy.ts";
import type { ClientConnection } from "./client-connection.ts";
import type { ConnectionCount } from "./connection-count.ts";
import type { UpstreamPool } from "./upstream-pool.ts";

export interface HttpProxyOptions {
  readonly policy: HttpPolicy;
  readonly resolver: Resolver;
  /** log and count what would be denied (decision events with audit: true), but allow it */
  readonly audit: boolean;
  /** a name lookup fails as a timeout (504) after this long */
  readonly resolveTimeoutMs: number;
  /** upstream connect attempt (all addresses together) */
  readonly connectTimeoutMs: number;
  /** a request head must be complete this long after its first byte (slow clients: 408) */
  readonly headerTimeoutMs: number;
  /** an idle client connection between requests is closed after this long */
  readonly keepAliveTimeoutMs: number;
  /** no byte moving during a request, a response or a tunnel: 408/504 or close */
  readonly idleTimeoutMs: number;
  /** client connections open at once (counted by `connectionCount`); more get 503 */
  readonly maxConnections: number;
  /** where open connections are counted: shared by all threads of the proxy; default this one's */
  readonly connectionCount?: ConnectionCount;
  /** request line and headers together, bytes; more gets 431 */
  readonly maxHeaderBytes: number;
  /** the pseudonym in our Via header; a request already carrying it is a loop (508) */
  readonly viaToken: string;
  /** name of the listener in events, e.g. "8080" */
  readonly listenerName: string;
}

/** One policy with its own counters: a reload swaps the whole value, never mutates it. */
export interface PolicyState {
  readonly policy: HttpPolicy;
  /** requests decided per rule index, plus one slot at the end for "no rule" */
  readonly hits: Float64Array;
  readonly ruleIndex: ReadonlyMap<HttpRule, number>;
  readonly generation: number;
}

export interface ProxyContext {
  readonly options: HttpProxyOptions;
  policy: PolicyState;
  readonly pool: UpstreamPool;
  readonly connections: Set<ClientConnection>;
  readonly connectionCount: ConnectionCount;
  /** `now` in milliseconds, refreshed by the sweeper: cheap timestamps for timeouts */
  readonly clock: Clock;
  draining: boolean;
  /** counters for status(): totals since start */
  readonly totals: {
    requests: number;
    tunnels: number;
    denied: number;
    audited: number;
    rejected: number;
    /** connections answered 503 at EGRESS_HTTP_PROXY_MAX_CONNECTIONS */
    refusedAtLimit: number;
  };
}

export function newPolicyState(policy: HttpPolicy, generation: number): PolicyState {
  return {
    policy,
    hits: new Float64Array(policy.rules.length + 1),
    ruleIndex: new Map(policy.rules.map((r, i) => [r, i])),
    generation,
  };
}

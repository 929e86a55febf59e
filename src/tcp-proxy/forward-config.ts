// The compiled, frozen configuration of the DNS (TCP) proxy: what the data path evaluates.
// The control path (config/dns-proxy-settings.ts) builds it from the rule text and the
// settings; it is plain data, so it can be handed to worker threads as it is.

export type Balance = "round-robin" | "least-connections";

/** Which address families of a name are used (OpenShift's HAProxy: `resolve-prefer ipv4`). */
export type FamilyPreference = "prefer-ipv4" | "prefer-ipv6" | "any";

export type ForwardTarget =
  | { readonly kind: "address"; readonly address: string; readonly family: 4 | 6 }
  | { readonly kind: "name"; readonly name: string };

/** One forwarded port: a rule line of EGRESS_DNS_PROXY_DESTINATION plus its per-port settings. */
export interface ForwardRule {
  readonly line: number;
  /** the rule line as written, for status and logs */
  readonly text: string;
  readonly localPort: number;
  readonly target: ForwardTarget;
  readonly remotePort: number;
  /** close a connection after this long without a byte either way; 0: never */
  readonly idleTimeoutMs: number;
}

export interface ResolverOptions {
  /** DNS servers ("ip", "ip:port", "[ip6]:port"); undefined: the system's (/etc/resolv.conf) */
  readonly servers: readonly string[] | undefined;
  /** an answer is re-resolved after its TTL, kept within these bounds */
  readonly minTtlMs: number;
  readonly maxTtlMs: number;
  /** when DNS fails, the last good answer keeps serving for this long */
  readonly staleMs: number;
  readonly family: FamilyPreference;
  /** one DNS query's timeout (each server is tried twice) */
  readonly queryTimeoutMs: number;
}

export interface HealthCheckOptions {
  /** active TCP connect checks of every address this often; 0: off (failures still count) */
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** consecutive failed checks that mark an address down */
  readonly fall: number;
  /** consecutive good checks that bring it back */
  readonly rise: number;
}

export interface ForwardOptions {
  /** each rule listens on every one of these addresses ("::" also takes IPv4 where allowed) */
  readonly listenAddresses: readonly string[];
  /** one connect attempt's timeout */
  readonly connectTimeoutMs: number;
  /** connect attempts on further addresses after a failed one */
  readonly retries: number;
  /** connections open at once, all rules together; more are reset at once */
  readonly maxConnections: number;
  /** TCP keep-alive on both sides, first probe after this long idle; 0: off */
  readonly keepAliveMs: number;
  readonly balance: Balance;
  /** an address whose connect failed is skipped for this long, doubling per failure */
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  readonly healthCheck: HealthCheckOptions;
  readonly resolver: ResolverOptions;
  /** threads that accept and forward connections (each listener is opened once per thread) */
  readonly threads: number;
}

export interface ForwardConfig {
  readonly rules: readonly ForwardRule[];
  readonly options: ForwardOptions;
}

export const defaultForwardOptions: ForwardOptions = Object.freeze({
  listenAddresses: Object.freeze(["::"]),
  connectTimeoutMs: 10_000,
  retries: 3,
  maxConnections: 4000,
  keepAliveMs: 60_000,
  balance: "round-robin",
  backoffMinMs: 1000,
  backoffMaxMs: 30_000,
  healthCheck: Object.freeze({ intervalMs: 2000, timeoutMs: 2000, fall: 2, rise: 1 }),
  resolver: Object.freeze({
    servers: undefined,
    minTtlMs: 5000,
    maxTtlMs: 300_000,
    staleMs: 3_600_000,
    family: "prefer-ipv4",
    queryTimeoutMs: 2000,
  }),
  threads: 1,
} satisfies ForwardOptions);

export const defaultIdleTimeoutMs = 3_600_000;

/** The target as people write it: `db.example.com:5432`, `[2001:db8::7]:443`. */
export function destinationText(rule: Pick<ForwardRule, "target" | "remotePort">): string {
  const t = rule.target;
  if (t.kind === "name") return `${t.name}:${rule.remotePort}`;
  return t.family === 6 ? `[${t.address}]:${rule.remotePort}` : `${t.address}:${rule.remotePort}`;
}

/** Rules with the same target share one pool of addresses (and its health and DNS state). */
export function targetKey(rule: Pick<ForwardRule, "target" | "remotePort">): string {
  return destinationText(rule);
}

// The one place where the data path talks to observability. Data-path modules (net,
// http-proxy, tcp-proxy, policy) publish plain objects on these diagnostics channels and
// never import logging or metrics libraries; observe/ subscribes (logs, metrics, status).
// Publishing with no subscriber costs a property check (`hasSubscribers`).
import diagnostics_channel from "node:diagnostics_channel";

export type DataMode = "http-proxy" | "dns-proxy" | "redirect";

/** How a proxied connection ended. */
export type CloseReason =
  | "done" // both sides closed normally
  | "client-reset"
  | "upstream-reset"
  | "idle-timeout"
  | "connect-failed"
  | "denied"
  | "limit"
  | "drain" // closed at the end of a graceful shutdown's drain time
  | "error";

/** Why a connect to an upstream failed. */
export type UpstreamErrorKind =
  "refused" | "timeout" | "unreachable" | "reset" | "resolve-failed" | "no-address" | "other";

export interface DecisionEvent {
  readonly mode: DataMode;
  readonly client: string; // "ip:port"
  readonly destination: string; // as asked, e.g. "api.example.com:443"
  readonly address: string | undefined; // the checked address we dial, when resolved
  readonly action: "allow" | "deny";
  readonly reason: string; // closed union of the policy module, kebab-case
  readonly ruleLine: number | undefined;
  readonly audit: boolean; // true: would be denied, allowed by audit mode
}

export interface ConnectionOpenEvent {
  readonly mode: DataMode;
  readonly listener: string; // e.g. "8080" or the local port of a DNS-proxy rule
  readonly client: string;
  /** DNS proxy: the rule's destination, `host:port` (an HTTP proxy connection has many) */
  readonly destination?: string;
  /** DNS proxy: the line of the rule the connection arrived by */
  readonly ruleLine?: number;
}

export interface ConnectionCloseEvent {
  readonly mode: DataMode;
  readonly listener: string;
  readonly client: string;
  readonly destination: string | undefined;
  readonly address: string | undefined;
  readonly ruleLine: number | undefined;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  readonly durationMs: number;
  readonly end: CloseReason;
  /** HTTP proxy: the status of the refusal the proxy itself answered last (400, 403, 502…) */
  readonly status?: number | undefined;
}

export interface UpstreamErrorEvent {
  readonly mode: DataMode;
  readonly destination: string;
  readonly address: string | undefined;
  readonly kind: UpstreamErrorKind;
  readonly message: string;
}

export interface ConnectLatencyEvent {
  readonly mode: DataMode;
  readonly seconds: number;
}

export interface RequestEvent {
  readonly mode: DataMode;
  readonly method: string;
  readonly status: number;
  readonly seconds: number;
}

export interface ResolveEvent {
  readonly name: string;
  readonly ok: boolean;
  readonly addresses: readonly string[];
  readonly ttlSeconds: number | undefined;
  readonly error: string | undefined;
  readonly stale: boolean; // serving the last good answer after a failure
}

/** An upstream address changed state: marked down after a failed connect or check, or back up. */
export interface UpstreamHealthEvent {
  readonly mode: DataMode;
  readonly destination: string; // as configured, e.g. "db.example.com:5432"
  readonly address: string;
  readonly up: boolean;
  readonly cause: "connect" | "check";
  readonly error: string | undefined;
  /** while down after a failed connect: when it may be tried again (ms since the epoch) */
  readonly retryAt: number | undefined;
}

export type ReloadResult = "applied" | "rejected" | "unchanged" | "restart-needed";

/** What started a reload: the first load, a watched file, the safety-net poll, or SIGHUP. */
export type ReloadTrigger = "start" | "watch" | "poll" | "signal";

export interface ReloadEvent {
  readonly setting: string;
  readonly result: ReloadResult;
  readonly trigger: ReloadTrigger;
  /**
   * every problem, one message each: why it was rejected or needs a restart; when applied,
   * what was accepted but is probably not meant (usually empty)
   */
  readonly problems: readonly string[];
}

/** Redirect mode's control path: what network set-up changed, and warnings. */
export interface RedirectEvent {
  readonly kind: "change" | "warning";
  /** one line in words, e.g. "added 198.51.100.99/32 to macvlan0" */
  readonly message: string;
}

/** The roles of a replica of an active/standby router (src/ha/election.ts mirrors them). */
export type HaRole = "starting" | "standby" | "holder" | "fault" | "stopped";

/**
 * High availability (redirect mode with hot standbys): a role change once its actions are
 * done, or the split-brain guard's finding (another host answers for the source address).
 */
export type HaEvent =
  | {
      readonly kind: "role";
      readonly role: HaRole;
      /** true: this replica holds the address with NAT in (and is ready) */
      readonly holding: boolean;
      /** a takeover that completed: seconds from the election's report to holding */
      readonly takeoverSeconds: number | undefined;
    }
  | { readonly kind: "split-brain"; readonly detected: boolean };

export const channels = {
  decision: diagnostics_channel.channel("egress-router:decision"),
  connectionOpen: diagnostics_channel.channel("egress-router:connection-open"),
  connectionClose: diagnostics_channel.channel("egress-router:connection-close"),
  upstreamError: diagnostics_channel.channel("egress-router:upstream-error"),
  connectLatency: diagnostics_channel.channel("egress-router:connect-latency"),
  request: diagnostics_channel.channel("egress-router:request"),
  resolve: diagnostics_channel.channel("egress-router:resolve"),
  upstreamHealth: diagnostics_channel.channel("egress-router:upstream-health"),
  reload: diagnostics_channel.channel("egress-router:reload"),
  redirect: diagnostics_channel.channel("egress-router:redirect"),
  ha: diagnostics_channel.channel("egress-router:ha"),
} as const;

export function publishDecision(e: DecisionEvent): void {
  if (channels.decision.hasSubscribers) channels.decision.publish(e);
}
export function publishConnectionOpen(e: ConnectionOpenEvent): void {
  if (channels.connectionOpen.hasSubscribers) channels.connectionOpen.publish(e);
}
export function publishConnectionClose(e: ConnectionCloseEvent): void {
  if (channels.connectionClose.hasSubscribers) channels.connectionClose.publish(e);
}
export function publishUpstreamError(e: UpstreamErrorEvent): void {
  if (channels.upstreamError.hasSubscribers) channels.upstreamError.publish(e);
}
export function publishConnectLatency(e: ConnectLatencyEvent): void {
  if (channels.connectLatency.hasSubscribers) channels.connectLatency.publish(e);
}
export function publishRequest(e: RequestEvent): void {
  if (channels.request.hasSubscribers) channels.request.publish(e);
}
export function publishResolve(e: ResolveEvent): void {
  if (channels.resolve.hasSubscribers) channels.resolve.publish(e);
}
export function publishUpstreamHealth(e: UpstreamHealthEvent): void {
  if (channels.upstreamHealth.hasSubscribers) channels.upstreamHealth.publish(e);
}
export function publishReload(e: ReloadEvent): void {
  if (channels.reload.hasSubscribers) channels.reload.publish(e);
}
export function publishRedirect(e: RedirectEvent): void {
  if (channels.redirect.hasSubscribers) channels.redirect.publish(e);
}
export function publishHa(e: HaEvent): void {
  if (channels.ha.hasSubscribers) channels.ha.publish(e);
}

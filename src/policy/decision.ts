// A decision is a value with a reason: logs, metrics, the 403 answer and `explain` all render
// this one value. Reasons are a closed, kebab-case set (they go into log fields and metric
// labels unchanged); docs/modes.md (HTTP proxy mode) lists them.
import type { HttpRule } from "../config/types.ts";

export type DecisionReason =
  /** a host-name rule names the requested host */
  | "host-matched"
  /** a `*.domain` rule covers the requested host */
  | "domain-matched"
  /** an address rule names the requested address literal */
  | "address-matched"
  /** a range rule covers the requested address literal */
  | "range-matched"
  /** an address rule names an address the requested name resolves to */
  | "resolved-address-matched"
  /** a range rule covers an address the requested name resolves to */
  | "resolved-range-matched"
  /** the final `*` rule */
  | "wildcard-matched"
  /** no rule matched and there is no final `*`: denied by default */
  | "no-rule-matched"
  /** loopback, unspecified or link-local: only an explicit address or range rule opens it */
  | "local-address"
  /** CONNECT to a port outside the configured CONNECT port list */
  | "port-not-allowed";

export const decisionReasons: readonly DecisionReason[] = [
  "host-matched",
  "domain-matched",
  "address-matched",
  "range-matched",
  "resolved-address-matched",
  "resolved-range-matched",
  "wildcard-matched",
  "no-rule-matched",
  "local-address",
  "port-not-allowed",
];

export interface Decision {
  readonly action: "allow" | "deny";
  readonly reason: DecisionReason;
  /** the deciding rule line; undefined for `no-rule-matched`, `local-address` and `port-not-allowed` */
  readonly rule: HttpRule | undefined;
  /** the address the decision is about (a literal, or the resolved address that decided) */
  readonly address: string | undefined;
}

/**
 * One line for people: the reason code first (stable, greppable), then the deciding rule.
 *
 * @example describeDecision(d) // 'no-rule-matched: no rule allows it and there is no final "*"'
 */
export function describeDecision(d: Decision): string {
  const rule = d.rule ? `rule line ${d.rule.line} "${d.rule.text}"` : "";
  switch (d.reason) {
    case "host-matched":
    case "domain-matched":
    case "address-matched":
    case "range-matched":
    case "wildcard-matched":
      return `${d.reason}: ${rule}`;
    case "resolved-address-matched":
    case "resolved-range-matched":
      return `${d.reason}: resolves to ${d.address ?? "?"}, ${rule}`;
    case "no-rule-matched":
      return d.address === undefined
        ? `${d.reason}: no rule allows it and there is no final "*"`
        : `${d.reason}: no rule allows ${d.address} and there is no final "*"`;
    case "local-address":
      return `${d.reason}: ${d.address ?? "?"} is a loopback, unspecified or link-local address; "*" does not open it, an address or range rule does`;
    case "port-not-allowed":
      return `${d.reason}: CONNECT to this port is not in EGRESS_HTTP_PROXY_CONNECT_PORTS`;
  }
}

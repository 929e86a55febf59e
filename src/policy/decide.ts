// decide(policy, target, addresses) → Decision. The evaluation order, once:
//
// 1. CONNECT to a port outside the CONNECT port list (when one is configured): deny,
//    `port-not-allowed`.
// 2. The rule lines are read top to bottom and the first line that matches decides:
//    - a host rule matches the requested name exactly (canonical form: lower-case
//      punycode, no trailing dot); a `*.domain` rule matches the domain and every name
//      under it;
//    - an address or range rule matches the requested address literal, or, for a name,
//      an address the name resolves to (Squid `dst` semantics);
//    - `*` matches everything.
//    A name is judged once per resolved address; it is allowed only when every address is
//    allowed (the proxy may dial any of them), otherwise the first denied address decides.
//    An address in the NAT64 prefix 64:ff9b::/96 is judged as itself and as the IPv4
//    address it embeds; both must be allowed.
// 3. No line matched: deny, `no-rule-matched` (there is no final `*`).
// 4. A loopback, unspecified or link-local address is never opened by a name rule or by
//    `*`, only by an address or range rule: deny, `local-address`.
import type { HttpRule } from "../config/types.ts";
import { isLocalAddress, nat64Embedded } from "./address-class.ts";
import type { CanonicalHost } from "./canonical-host.ts";
import type { Decision, DecisionReason } from "./decision.ts";
import type { HttpPolicy } from "./http-policy.ts";

export interface Target {
  readonly host: CanonicalHost;
  readonly port: number;
  /** a CONNECT tunnel (the CONNECT port list applies) rather than a forwarded request */
  readonly connect: boolean;
}

const portNotAllowed: Decision = Object.freeze({
  action: "deny",
  reason: "port-not-allowed",
  rule: undefined,
  address: undefined,
});

function portAllowed(policy: HttpPolicy, target: Target): boolean {
  const ports = policy.connectPorts;
  if (!target.connect || ports === undefined) return true;
  for (const r of ports) if (target.port >= r.from && target.port <= r.to) return true;
  return false;
}

/** Index of the first host or domain rule matching `name`; Infinity when none does. */
export function nameRuleIndex(policy: HttpPolicy, name: string): number {
  let best = policy.hosts.get(name) ?? Infinity;
  if (policy.domains.size === 0) return best;
  let at = 0;
  for (;;) {
    const idx = policy.domains.get(at === 0 ? name : name.slice(at));
    if (idx !== undefined && idx < best) best = idx;
    const dot = name.indexOf(".", at);
    if (dot === -1) return best;
    at = dot + 1;
  }
}

function addressRuleIndex(policy: HttpPolicy, address: string, family: 4 | 6): number {
  const type = family === 4 ? "ipv4" : "ipv6";
  if (policy.addressRules.length === 0 || !policy.anyAddress.check(address, type)) return Infinity;
  for (const r of policy.addressRules) if (r.list.check(address, type)) return r.index;
  return Infinity;
}

function familyOf(address: string): 4 | 6 {
  return address.includes(":") ? 6 : 4;
}

function judge(
  policy: HttpPolicy,
  nameIdx: number,
  address: string,
  family: 4 | 6,
  resolved: boolean,
): Decision {
  const addrIdx = addressRuleIndex(policy, address, family);
  const idx = Math.min(nameIdx, addrIdx, policy.wildcardIndex);
  const rule: HttpRule | undefined = policy.rules[idx];
  if (rule === undefined) {
    return { action: "deny", reason: "no-rule-matched", rule: undefined, address };
  }
  let reason: DecisionReason;
  if (idx === addrIdx) {
    const range = rule.match.kind === "cidr";
    reason = resolved
      ? range
        ? "resolved-range-matched"
        : "resolved-address-matched"
      : range
        ? "range-matched"
        : "address-matched";
  } else if (idx === nameIdx) {
    reason = rule.match.kind === "domain" ? "domain-matched" : "host-matched";
  } else {
    reason = "wildcard-matched";
  }
  if (rule.action === "allow" && idx !== addrIdx && isLocalAddress(address, family)) {
    return { action: "deny", reason: "local-address", rule: undefined, address };
  }
  return { action: rule.action, reason, rule, address };
}

function judgeAddress(policy: HttpPolicy, nameIdx: number, address: string, resolved: boolean) {
  const family = familyOf(address);
  const own = judge(policy, nameIdx, address, family, resolved);
  if (own.action === "deny") return own;
  const embedded = nat64Embedded(address, family);
  if (embedded === undefined) return own;
  const inner = judge(policy, nameIdx, embedded, 4, resolved);
  return inner.action === "deny" ? inner : own;
}

/**
 * What can be decided from the name alone, before resolving it: a denial that no address
 * can change (the name matches a deny line before any address rule, or nothing but address
 * rules could still allow it and there are none), or `port-not-allowed`. `undefined`: resolve
 * the name, then call `decide` with its addresses. Denying here means a denied name is never
 * even looked up (no DNS queries for names the policy refuses).
 */
export function decideName(policy: HttpPolicy, target: Target): Decision | undefined {
  if (!portAllowed(policy, target)) return portNotAllowed;
  if (target.host.kind !== "name") return undefined;
  const nameIdx = nameRuleIndex(policy, target.host.name);
  if (nameIdx < policy.firstAddressIndex) {
    const rule = policy.rules[nameIdx];
    if (rule?.action === "deny") {
      const reason = rule.match.kind === "domain" ? "domain-matched" : "host-matched";
      return { action: "deny", reason, rule, address: undefined };
    }
    return undefined;
  }
  if (
    nameIdx === Infinity &&
    policy.firstAddressIndex === Infinity &&
    policy.wildcardIndex === Infinity
  ) {
    return { action: "deny", reason: "no-rule-matched", rule: undefined, address: undefined };
  }
  return undefined;
}

/**
 * The decision for a target. For a name, `addresses` are every address it resolved to (the
 * ones the proxy may dial); the name is allowed only if each of them is. With no addresses
 * (e.g. `explain` without resolving) a name is judged by the name rules and `*` alone.
 */
export function decide(
  policy: HttpPolicy,
  target: Target,
  addresses: readonly string[] = [],
): Decision {
  if (!portAllowed(policy, target)) return portNotAllowed;
  const host = target.host;
  if (host.kind === "address") return judgeAddress(policy, Infinity, host.address, false);
  const nameIdx = nameRuleIndex(policy, host.name);
  if (addresses.length === 0) {
    const idx = Math.min(nameIdx, policy.wildcardIndex);
    const rule = policy.rules[idx];
    if (rule === undefined) {
      return { action: "deny", reason: "no-rule-matched", rule: undefined, address: undefined };
    }
    const reason: DecisionReason =
      idx === nameIdx
        ? rule.match.kind === "domain"
          ? "domain-matched"
          : "host-matched"
        : "wildcard-matched";
    return { action: rule.action, reason, rule, address: undefined };
  }
  let first: Decision | undefined;
  for (const address of addresses) {
    const d = judgeAddress(policy, nameIdx, address, true);
    if (d.action === "deny") return d;
    first ??= d;
  }
  return first as Decision;
}

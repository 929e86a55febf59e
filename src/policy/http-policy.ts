// Compiles HTTP proxy rule lines into a frozen lookup structure, once, at the edge. The data
// path only evaluates it (decide.ts). First match wins, so every structure remembers the
// index of the first rule line that can match.
import net from "node:net";
import type { HttpRule } from "../config/types.ts";

/** An inclusive port range of the optional CONNECT port list. */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

export interface HttpPolicyOptions {
  /** CONNECT is only allowed to these ports; undefined: any port (as upstream). */
  readonly connectPorts?: readonly PortRange[] | undefined;
}

export interface AddressRuleList {
  readonly index: number;
  readonly list: net.BlockList;
}

export interface HttpPolicy {
  readonly rules: readonly HttpRule[];
  readonly connectPorts: readonly PortRange[] | undefined;
  /** exact host name → index of the first host rule naming it */
  readonly hosts: ReadonlyMap<string, number>;
  /** domain → index of the first `*.domain` rule naming it */
  readonly domains: ReadonlyMap<string, number>;
  /** address and range rules in rule order, one list each (first match needs the order) */
  readonly addressRules: readonly AddressRuleList[];
  /** every address and range rule at once: most addresses match none, checked in one call */
  readonly anyAddress: net.BlockList;
  /** index of the first `*` line; Infinity without one (default deny) */
  readonly wildcardIndex: number;
  /** index of the first address or range rule; Infinity without one */
  readonly firstAddressIndex: number;
}

/**
 * Compiles parsed rule lines (in order) into a frozen policy.
 *
 * @example compileHttpPolicy(parseHttpRules("!*.internal.example.com\n*.example.com").rules)
 */
export function compileHttpPolicy(
  rules: readonly HttpRule[],
  options: HttpPolicyOptions = {},
): HttpPolicy {
  const hosts = new Map<string, number>();
  const domains = new Map<string, number>();
  const addressRules: AddressRuleList[] = [];
  const anyAddress = new net.BlockList();
  let wildcardIndex = Infinity;
  let firstAddressIndex = Infinity;
  rules.forEach((rule, index) => {
    const m = rule.match;
    switch (m.kind) {
      case "host":
        if (!hosts.has(m.host)) hosts.set(m.host, index);
        break;
      case "domain":
        if (!domains.has(m.domain)) domains.set(m.domain, index);
        break;
      case "address":
      case "cidr": {
        const list = new net.BlockList();
        const type = m.family === 4 ? "ipv4" : "ipv6";
        if (m.kind === "address") {
          list.addAddress(m.address, type);
          anyAddress.addAddress(m.address, type);
        } else {
          list.addSubnet(m.network, m.prefixLength, type);
          anyAddress.addSubnet(m.network, m.prefixLength, type);
        }
        addressRules.push(Object.freeze({ index, list }));
        if (firstAddressIndex === Infinity) firstAddressIndex = index;
        break;
      }
      case "any":
        if (wildcardIndex === Infinity) wildcardIndex = index;
        break;
    }
  });
  return Object.freeze({
    rules: Object.freeze([...rules]),
    connectPorts:
      options.connectPorts === undefined
        ? undefined
        : Object.freeze(options.connectPorts.map((r) => Object.freeze({ ...r }))),
    hosts,
    domains,
    addressRules: Object.freeze(addressRules),
    anyAddress,
    wildcardIndex,
    firstAddressIndex,
  });
}

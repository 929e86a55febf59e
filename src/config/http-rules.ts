// EGRESS_HTTP_PROXY_DESTINATION, the HTTP-proxy grammar (spec/openshift-compat.md §2).
// Lines in order, first match wins; `!` denies; `*` (only as the last lines) allows the rest.
import type { ConfigProblem } from "./config-error.ts";
import { networkAddress, parseAddress, parsePrefix } from "./addresses.ts";
import { canonicalHostName } from "./host-names.ts";
import type { ParsedRules } from "./redirect-rules.ts";
import { lineShapeHint, ruleLines, rulesMissing, shown } from "./rule-lines.ts";
import type { HostMatch, HttpRule } from "./types.ts";

const forms =
  'a host name (www.example.com), *.domain, an address (203.0.113.7, 2001:db8::7), a range (203.0.113.0/24), each optionally after one "!" to deny, or a final *';

export function parseHttpRules(
  text: string | undefined,
  setting = "EGRESS_HTTP_PROXY_DESTINATION",
): ParsedRules<HttpRule> {
  if (text === undefined || text.trim() === "") {
    return {
      rules: [],
      problems: [
        rulesMissing(
          setting,
          `No ${setting} specified`,
          `Cannot start the HTTP proxy: no rules are set; list the destinations to allow, one per line, e.g. "*.example.com", and end with "*" to allow the rest (or use ${setting}_FILE)`,
        ),
      ],
    };
  }
  const problems: ConfigProblem[] = [];
  const rules: HttpRule[] = [];
  let wildcardLine: number | undefined;
  for (const l of ruleLines(text)) {
    const at = `${setting} line ${l.line}`;
    if (l.text === "*") {
      wildcardLine ??= l.line;
      const any: HttpRule = { line: l.line, action: "allow", match: { kind: "any" }, text: l.text };
      rules.push(Object.freeze(any));
      continue;
    }
    if (wildcardLine !== undefined) {
      problems.push({
        code: "wildcard-not-last",
        setting,
        line: l.line,
        openshift: "Wildcard must be last rule, if present",
        message: `${at}: Cannot use "${shown(l.text)}": it follows the wildcard "*" on line ${wildcardLine}, which already matched everything; move "*" to the end`,
      });
      continue;
    }
    const deny = l.text.startsWith("!");
    const value = deny ? l.text.slice(1) : l.text;
    const result = parseMatch(value);
    if ("hint" in result) {
      const hint = l.hasCR || l.hasTab || / #/.test(value) ? lineShapeHint(l, forms) : result.hint;
      problems.push({
        code: l.hasTab ? "line-has-tab" : l.hasCR ? "line-has-cr" : "destination-bad",
        setting,
        line: l.line,
        openshift: `Bad destination '${value}'`,
        message: `${at}: Cannot use "${shown(l.text)}": ${hint}`,
      });
      continue;
    }
    rules.push(
      Object.freeze({
        line: l.line,
        action: deny ? "deny" : "allow",
        match: result.match,
        text: l.text,
      }),
    );
  }
  return { rules: Object.freeze(rules), problems };
}

function parseMatch(value: string): { match: HostMatch } | { hint: string } {
  if (value === "") return { hint: `"!" needs a destination after it, e.g. "!203.0.113.7"` };
  if (value === "*")
    return {
      hint: `"!*" would deny everything; leave the wildcard out: without a final "*" whatever no rule allows is denied`,
    };
  if (value.startsWith("!"))
    return { hint: `only one "!" is allowed; write "!${value.replace(/^!+/, "")}"` };
  if (/\s/.test(value)) return { hint: `one destination per line; expected ${forms}` };
  const bracketed = /^\[([^\]]*)\]$/.exec(value);
  const plain = bracketed?.[1] ?? value;
  const address = parseAddress(plain);
  if (address)
    return { match: { kind: "address", address: address.address, family: address.family } };
  if (value.includes("/")) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
      return {
        hint: `a rule is a destination, not a URL; write the host name only, e.g. "${shown(value.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").replace(/[/:].*$/, ""))}"`,
      };
    }
    const p = parsePrefix(value, true);
    if (!p)
      return {
        hint: `not a valid address range; the prefix length must be 0-32 for IPv4 and 0-128 for IPv6, e.g. 203.0.113.0/24`,
      };
    return {
      match: {
        kind: "cidr",
        network: networkAddress(p),
        prefixLength: p.prefixLength,
        family: p.family,
      },
    };
  }
  if (value.startsWith("*.")) {
    const domain = canonicalHostName(value.slice(2));
    if (!domain)
      return {
        hint: `"${shown(value.slice(2))}" is not a valid domain; write e.g. *.example.com (one "*." at the start only)`,
      };
    return { match: { kind: "domain", domain } };
  }
  if (value.includes("*"))
    return {
      hint: `a wildcard is only "*.domain" (the domain and its sub-domains) or a lone final "*"`,
    };
  if (/:\d*$/.test(value) && !value.includes("::"))
    return {
      hint: `ports are not part of a rule; write the host alone, e.g. "${shown(value.replace(/:\d*$/, ""))}"`,
    };
  if (value.startsWith("."))
    return {
      hint: `a leading dot is Squid's syntax; write "*${shown(value)}" for the domain and its sub-domains`,
    };
  const host = canonicalHostName(value);
  if (!host) {
    return {
      hint: /^[\d.]+$/.test(value)
        ? `not a valid IPv4 address (four decimal numbers 0-255) nor a host name`
        : `not a valid host name (letters, digits and "-" in dot-separated labels, no "_", no leading or trailing "-")`,
    };
  }
  return { match: { kind: "host", host } };
}

/** One normalized rule as a grammar line (what `check` prints). */
export function formatHttpRule(r: HttpRule): string {
  const m = r.match;
  let text: string;
  switch (m.kind) {
    case "any":
      return "*";
    case "host":
      text = m.host;
      break;
    case "domain":
      text = `*.${m.domain}`;
      break;
    case "address":
      text = m.address;
      break;
    case "cidr":
      text = `${m.network}/${m.prefixLength}`;
      break;
  }
  return r.action === "deny" ? `!${text}` : text;
}

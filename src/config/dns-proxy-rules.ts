// EGRESS_DNS_PROXY_DESTINATION, the DNS (TCP) proxy grammar (spec/openshift-compat.md §3):
//   <port> <address-or-name> [<remote-port>]
// A name must contain a dot; IPv6 addresses are ours (bracketless: fields are space-separated).
import type { ConfigProblem } from "./config-error.ts";
import { parseAddress } from "./addresses.ts";
import { canonicalHostName } from "./host-names.ts";
import type { ParsedRules } from "./redirect-rules.ts";
import { checkPorts, lineShapeHint, ruleLines, rulesMissing, shown } from "./rule-lines.ts";
import type { DnsProxyRule, ForwardTarget } from "./types.ts";

const forms = `"<port> <address-or-name> [<remote-port>]", e.g. "5432 db.example.com" or "8443 203.0.113.7 443"`;

export function parseDnsProxyRules(
  text: string | undefined,
  setting = "EGRESS_DNS_PROXY_DESTINATION",
): ParsedRules<DnsProxyRule> {
  if (text === undefined || text.trim() === "") {
    return {
      rules: [],
      problems: [
        rulesMissing(
          setting,
          `Must specify ${setting}`,
          `Cannot start the DNS proxy: no rules are set; give one "<port> <address-or-name> [<remote-port>]" line per forwarded port (or use ${setting}_FILE)`,
        ),
      ],
    };
  }
  const problems: ConfigProblem[] = [];
  const rules: DnsProxyRule[] = [];
  const usedPorts = new Map<number, number>();
  for (const l of ruleLines(text)) {
    const at = `${setting} line ${l.line}`;
    const bad = (hint: string): void => {
      problems.push({
        code: l.hasTab ? "line-has-tab" : l.hasCR ? "line-has-cr" : "destination-bad",
        setting,
        line: l.line,
        openshift: `Bad destination '${l.text}'`,
        message: `${at}: Cannot parse "${shown(l.text)}": ${hint}`,
      });
    };
    const f = l.fields;
    const [portText = "", targetText = "", remoteText] = f;
    if (l.hasTab || l.hasCR || f.length < 2 || f.length > 3) {
      bad(lineShapeHint(l, forms));
      continue;
    }
    if (!/^\d+$/.test(portText)) {
      bad(`the local port "${shown(portText)}" is not a number; expected ${forms}`);
      continue;
    }
    if (remoteText !== undefined && !/^\d+$/.test(remoteText)) {
      bad(
        ["tcp", "udp"].includes(targetText.toLowerCase())
          ? `the DNS proxy forwards TCP only; drop the protocol: "${portText} ${remoteText}"`
          : `the remote port "${shown(remoteText)}" is not a number; expected ${forms}`,
      );
      continue;
    }
    const target = parseTarget(targetText);
    if ("hint" in target) {
      bad(target.hint);
      continue;
    }
    const ports = checkPorts(
      setting,
      l.line,
      [
        ["proxy port", portText],
        ["remote port", remoteText],
      ],
      problems,
    );
    const localPort = ports?.[0];
    const remotePort = ports?.[1] ?? localPort;
    if (localPort === undefined || remotePort === undefined) continue;
    const seen = usedPorts.get(localPort);
    if (seen !== undefined) {
      problems.push({
        code: "port-duplicate",
        setting,
        line: l.line,
        openshift: `Proxy port ${portText} already used, must be unique for each destination`,
        message: `${at}: Cannot listen on port ${localPort} again: line ${seen} already uses it; use another local port`,
      });
      continue;
    }
    usedPorts.set(localPort, l.line);
    rules.push(
      Object.freeze({ line: l.line, localPort, target: target.target, remotePort, text: l.text }),
    );
  }
  return { rules: Object.freeze(rules), problems };
}

function parseTarget(text: string): { target: ForwardTarget } | { hint: string } {
  const a = parseAddress(text);
  if (a) return { target: { kind: "address", address: a.address, family: a.family } };
  if (text.startsWith("[") && text.endsWith("]") && parseAddress(text.slice(1, -1))) {
    return { hint: `write IPv6 addresses without brackets: "${text.slice(1, -1)}"` };
  }
  const name = canonicalHostName(text);
  if (!name) {
    return {
      hint: /^[\d.]+$/.test(text)
        ? `"${shown(text)}" is not a valid IPv4 address (four decimal numbers 0-255) nor a host name`
        : `"${shown(text)}" is not a valid host name (letters, digits and "-" in dot-separated labels)`,
    };
  }
  if (!name.includes(".")) {
    return {
      hint: `"${shown(text)}" has no dot; names must be fully qualified (e.g. ${name}.example.com), and "localhost" would loop back into the router`,
    };
  }
  return { target: { kind: "name", name } };
}

/** One normalized rule as a grammar line (what `check` prints). */
export function formatDnsProxyRule(r: DnsProxyRule): string {
  const target = r.target.kind === "address" ? r.target.address : r.target.name;
  return r.remotePort === r.localPort
    ? `${r.localPort} ${target}`
    : `${r.localPort} ${target} ${r.remotePort}`;
}

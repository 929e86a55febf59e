// EGRESS_DESTINATION, the redirect-mode grammar (spec/openshift-compat.md §1):
//   <ip>                                  fallback, the last rule line
//   <port> <proto> <ip> [<remote-port>]   proto: tcp, udp (and sctp, ours)
// Every problem is collected; the first one in line order carries the message the
// OpenShift image printed when it stopped there.
import type { ConfigProblem } from "./config-error.ts";
import { parseAddress } from "./addresses.ts";
import {
  checkPorts,
  lineShapeHint,
  ruleLines,
  rulesMissing,
  shown,
  type RuleLine,
} from "./rule-lines.ts";
import type { Protocol, RedirectRule, SourceAddress } from "./types.ts";

const protocols: ReadonlySet<string> = new Set<Protocol>(["tcp", "udp", "sctp"]);
const forms = `"<port> <tcp|udp|sctp> <ip> [<remote-port>]" or a final fallback "<ip>"`;

export interface ParsedRules<R> {
  readonly rules: readonly R[];
  readonly problems: readonly ConfigProblem[];
}

export function parseRedirectRules(
  text: string | undefined,
  setting = "EGRESS_DESTINATION",
): ParsedRules<RedirectRule> {
  const problems: ConfigProblem[] = [];
  if (text === undefined || text.trim() === "") {
    problems.push(
      rulesMissing(
        setting,
        `${setting} unspecified`,
        `Cannot redirect anything: no rules are set; give "<port> <proto> <ip>" lines and/or a fallback "<ip>" (or ${setting}_FILE)`,
      ),
    );
    return { rules: [], problems };
  }
  const rules: RedirectRule[] = [];
  const usedPorts = new Map<number, number>(); // local port -> line
  let fallbackLine: number | undefined;

  for (const l of ruleLines(text)) {
    const at = `${setting} line ${l.line}`;
    if (fallbackLine !== undefined) {
      problems.push({
        code: "fallback-not-last",
        setting,
        line: l.line,
        openshift: `${setting} fallback IP must be the last line`,
        message: `${at}: Cannot use "${shown(l.text)}": it follows the fallback on line ${fallbackLine}; move the fallback "<ip>" line to the end`,
      });
      continue;
    }
    const invalid = (hint: string): void => {
      problems.push({
        code: l.hasTab ? "line-has-tab" : l.hasCR ? "line-has-cr" : "line-invalid",
        setting,
        line: l.line,
        openshift: `${setting} value '${l.text}' is invalid`,
        message: `${at}: Cannot parse "${shown(l.text)}": ${hint}`,
      });
    };
    if (l.hasTab || l.hasCR) {
      invalid(lineShapeHint(l, forms));
      continue;
    }
    const rule = parseLine(l, setting, at, problems, usedPorts, invalid);
    if (!rule) continue;
    if (rule.kind === "fallback") fallbackLine = l.line;
    rules.push(Object.freeze(rule));
  }
  return { rules: Object.freeze(rules), problems };
}

function parseLine(
  l: RuleLine,
  setting: string,
  at: string,
  problems: ConfigProblem[],
  usedPorts: Map<number, number>,
  invalid: (hint: string) => void,
): RedirectRule | undefined {
  const f = l.fields;
  if (f.length === 1) {
    const a = parseAddress(f[0] ?? "");
    if (!a) {
      invalid(
        /^\d+$/.test(f[0] ?? "")
          ? `a port needs a protocol and a destination; expected ${forms}`
          : `not an IP address; a fallback is one IPv4 or IPv6 address (host names are not allowed: the kernel NAT needs an address)`,
      );
      return undefined;
    }
    return { kind: "fallback", line: l.line, destination: a.address, family: a.family };
  }
  if (f.length !== 3 && f.length !== 4) {
    invalid(lineShapeHint(l, forms));
    return undefined;
  }
  const [portText = "", proto = "", dest = "", remoteText] = f;
  const a = parseAddress(dest);
  if (
    !/^\d+$/.test(portText) ||
    !protocols.has(proto) ||
    !a ||
    (remoteText !== undefined && !/^\d+$/.test(remoteText))
  ) {
    let hint: string;
    if (!/^\d+$/.test(portText))
      hint = `the local port "${shown(portText)}" is not a number; expected ${forms}`;
    else if (!protocols.has(proto)) {
      hint = protocols.has(proto.toLowerCase())
        ? `protocols are lower case; write "${proto.toLowerCase()}"`
        : `unknown protocol "${shown(proto)}"; use tcp, udp or sctp`;
    } else if (!a)
      hint = `"${shown(dest)}" is not an IP address; write the destination's IPv4 or IPv6 address (host names are not allowed: the kernel NAT needs an address)`;
    else hint = `the remote port "${shown(remoteText ?? "")}" is not a number; expected ${forms}`;
    invalid(hint);
    return undefined;
  }
  const ports = checkPorts(
    setting,
    l.line,
    [
      ["local port", portText],
      ["remote port", remoteText],
    ],
    problems,
  );
  const localPort = ports?.[0];
  const remotePort = ports?.[1];
  if (localPort === undefined) return undefined;
  const seen = usedPorts.get(localPort);
  if (seen !== undefined) {
    problems.push({
      code: "port-duplicate",
      setting,
      line: l.line,
      openshift: `${setting} localport ${portText} is already used, must be unique for each destination`,
      message: `${at}: Cannot redirect local port ${localPort} again: line ${seen} already uses it (whatever the protocol); use another local port`,
    });
    return undefined;
  }
  usedPorts.set(localPort, l.line);
  return {
    kind: "port",
    line: l.line,
    localPort,
    protocol: proto as Protocol,
    destination: a.address,
    family: a.family,
    remotePort,
  };
}

/** Redirect rules must use the source address's family: NAT does not translate v4<->v6. */
export function checkRedirectFamilies(
  source: SourceAddress,
  rules: readonly RedirectRule[],
  setting = "EGRESS_DESTINATION",
): ConfigProblem[] {
  return rules
    .filter((r) => r.family !== source.family)
    .map((r) => ({
      code: "line-invalid" as const,
      setting,
      line: r.line,
      message: `${setting} line ${r.line}: Cannot redirect to "${r.destination}": it is IPv${r.family} but EGRESS_SOURCE is IPv${source.family}, and NAT does not translate between families; use a destination of the source's family or run a second router`,
    }));
}

/** One normalized rule as a grammar line (what `check` prints). */
export function formatRedirectRule(r: RedirectRule): string {
  if (r.kind === "fallback") return r.destination;
  const base = `${r.localPort} ${r.protocol} ${r.destination}`;
  return r.remotePort === undefined ? base : `${base} ${r.remotePort}`;
}

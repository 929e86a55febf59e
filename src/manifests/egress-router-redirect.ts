// `spec.redirect` of an EgressRouter: the rules and the fallbackIP, as EGRESS_DESTINATION lines.
import { parseAddress } from "../config/addresses.ts";
import { shown } from "../config/rule-lines.ts";
import type { Family, Protocol } from "../config/types.ts";
import { describe, type FieldReader, type Path } from "./field-reader.ts";

const protocols: Record<string, Protocol> = { TCP: "tcp", UDP: "udp", SCTP: "sctp" };

/** The rule lines in order (the fallback last), or undefined when there is no redirect section. */
export function readRedirect(
  r: FieldReader,
  spec: Record<string, unknown>,
  sourceFamily: Family | undefined,
): string[] | undefined {
  const path = ["spec", "redirect"];
  if (spec["redirect"] === undefined) {
    r.problem(
      path,
      `Cannot redirect anything: spec.redirect is missing (mode Redirect requires it); add redirect.redirectRules and/or redirect.fallbackIP`,
    );
    return undefined;
  }
  const red = r.mapping(path, spec["redirect"], "spec.redirect");
  if (!red) return undefined;
  r.unknownFields(path, "spec.redirect", red);
  const lines: string[] = [];
  const family = (at: Path, address: string, fam: Family): void => {
    if (sourceFamily !== undefined && fam !== sourceFamily) {
      r.problem(
        at,
        `Cannot redirect to "${address}": it is IPv${fam} but the source address (spec.addresses[0].ip) is IPv${sourceFamily}, and NAT does not translate between families; use a destination of the source's family, or a second EgressRouter whose first address is IPv${fam}`,
      );
    }
  };
  const rulesValue = red["redirectRules"];
  const ports = new Map<number, number>();
  if (rulesValue !== undefined && rulesValue !== null && !Array.isArray(rulesValue)) {
    r.problem(
      [...path, "redirectRules"],
      `Cannot read the rules: it is ${describe(rulesValue)}, not a list; write one "- destinationIP: …" item per rule`,
    );
  }
  const rules: unknown[] = Array.isArray(rulesValue) ? rulesValue : [];
  rules.forEach((item: unknown, i) => {
    const at = [...path, "redirectRules", i];
    const rule = r.mapping(at, item, `rule ${i}`);
    if (!rule) return;
    r.unknownFields(at, "spec.redirect.redirectRules[]", rule);
    const destText = r.string(
      [...at, "destinationIP"],
      rule["destinationIP"],
      "redirect",
      "destinationIP: 203.0.113.25",
    );
    const dest = destText === undefined ? undefined : parseAddress(destText.trim());
    if (destText !== undefined && !dest) {
      r.problem(
        [...at, "destinationIP"],
        `Cannot redirect to "${shown(destText)}": not an IPv4 or IPv6 address (names are not allowed here); write the destination's address, e.g. 203.0.113.25`,
      );
    }
    if (dest) family([...at, "destinationIP"], dest.address, dest.family);
    const port = r.port([...at, "port"], rule["port"], "listen on port");
    if (port !== undefined) {
      const earlier = ports.get(port);
      if (earlier !== undefined) {
        r.problem(
          [...at, "port"],
          `Cannot redirect port ${port} twice: redirectRules[${earlier}] uses it already, and each local port takes one rule whatever the protocol; give one of them another port`,
        );
      } else ports.set(port, i);
    }
    const protoText = r.string(
      [...at, "protocol"],
      rule["protocol"],
      "choose the protocol",
      "protocol: TCP",
    );
    const proto = protoText === undefined ? undefined : protocols[protoText];
    if (protoText !== undefined && proto === undefined) {
      const upper = protocols[protoText.toUpperCase()]
        ? `; write "${protoText.toUpperCase()}" (upper case)`
        : "";
      r.problem(
        [...at, "protocol"],
        `Cannot use protocol "${shown(protoText)}": the EgressRouter takes TCP, UDP or SCTP${upper || "; use one of them"}`,
      );
    }
    let target: number | undefined;
    if (rule["targetPort"] !== undefined)
      target = r.port([...at, "targetPort"], rule["targetPort"], "redirect to target port");
    if (
      dest &&
      port !== undefined &&
      proto !== undefined &&
      (rule["targetPort"] === undefined || target !== undefined)
    ) {
      lines.push(
        `${port} ${proto} ${dest.address}${target === undefined || target === port ? "" : ` ${target}`}`,
      );
    }
  });
  const fb = red["fallbackIP"];
  if (fb !== undefined) {
    const at = [...path, "fallbackIP"];
    const text = r.string(at, fb, "send the other ports", "fallbackIP: 203.0.113.27");
    const a = text === undefined ? undefined : parseAddress(text.trim());
    if (text !== undefined && !a) {
      r.problem(
        at,
        `Cannot send the other ports to "${shown(text)}": not an IPv4 or IPv6 address; write the fallback destination's address, or remove fallbackIP so that other ports are refused`,
      );
    }
    if (a) {
      family(at, a.address, a.family);
      lines.push(a.address);
    }
  }
  if (rules.length === 0 && fb === undefined) {
    r.problem(
      path,
      `Cannot redirect anything: neither redirectRules nor fallbackIP is set; add at least one rule, or a fallbackIP for every port`,
    );
  }
  return lines;
}

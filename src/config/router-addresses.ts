// EGRESS_SOURCE and EGRESS_GATEWAY, checked first and second in every router-image mode.
import type { ConfigProblem } from "./config-error.ts";
import { parseAddress, parsePrefix, type ParsedAddress } from "./addresses.ts";
import { shown } from "./rule-lines.ts";
import type { SourceAddress } from "./types.ts";

type Parsed<T> = { value: T; problems: [] } | { value: undefined; problems: [ConfigProblem] };

export function parseSource(value: string | undefined): Parsed<SourceAddress> {
  const text = value?.trim() ?? "";
  const p = text === "" ? undefined : parsePrefix(text, false);
  if (p) {
    return {
      value: Object.freeze({ address: p.address, prefixLength: p.prefixLength, family: p.family }),
      problems: [],
    };
  }
  return {
    value: undefined,
    problems: [
      {
        code: "source-invalid",
        setting: "EGRESS_SOURCE",
        openshift: "EGRESS_SOURCE unspecified or invalid",
        message:
          text === ""
            ? `EGRESS_SOURCE: Cannot set up the egress address: it is not set; set it to the reserved source IP, e.g. EGRESS_SOURCE=192.0.2.99 (or 192.0.2.99/24)`
            : `EGRESS_SOURCE: Cannot use "${shown(text)}": not an IPv4 or IPv6 address with an optional /prefix in range; write e.g. 192.0.2.99, 192.0.2.99/24 or 2001:db8::99/64`,
      },
    ],
  };
}

export function parseGateway(
  value: string | undefined,
  source?: SourceAddress,
): Parsed<ParsedAddress> {
  const text = value?.trim() ?? "";
  const a = text === "" ? undefined : parseAddress(text);
  let state: string | undefined;
  if (text === "")
    state = "it is not set; set it to the next hop on the egress network, e.g. 192.0.2.1";
  else if (!a) {
    state = text.includes("/")
      ? `a gateway is one address, not a prefix; drop the "/${shown(text.slice(text.indexOf("/") + 1))}"`
      : "not an IPv4 or IPv6 address; write the next hop's address, e.g. 192.0.2.1";
  } else if (source && source.family !== a.family) {
    state = `it is IPv${a.family} but EGRESS_SOURCE is IPv${source.family}; use a gateway of the source's family`;
  }
  if (state === undefined && a) return { value: a, problems: [] };
  return {
    value: undefined,
    problems: [
      {
        code: "gateway-invalid",
        setting: "EGRESS_GATEWAY",
        openshift: "EGRESS_GATEWAY unspecified or invalid",
        message:
          text === ""
            ? `EGRESS_GATEWAY: Cannot route egress traffic: ${state}`
            : `EGRESS_GATEWAY: Cannot use "${shown(text)}": ${state}`,
      },
    ],
  };
}

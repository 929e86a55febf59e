// The OpenShift `EgressRouter` resource (network.operator.openshift.io/v1, redirect mode) as
// input to `manifests -f`. Every field is honoured, including those OpenShift ignores:
// `redirect.fallbackIP`, `networkInterface.macvlan.master` and `.mode`, and every entry of
// `addresses` (the first is the source address; all of them go on the interface). Anything the
// API server would reject, or silently drop (an unknown field), is reported with its field path,
// its line in the file and the fix.
import { LineCounter, parseAllDocuments, isMap, isSeq, type Document } from "yaml";
import { parseAddress, parsePrefix } from "../config/addresses.ts";
import { valueChecks } from "../config/catalogue.ts";
import type { ConfigProblem } from "../config/config-error.ts";
import { parseRedirectRules } from "../config/redirect-rules.ts";
import { shown } from "../config/rule-lines.ts";
import type { Family, Protocol, RedirectRule, SourceAddress } from "../config/types.ts";
import type { InterfaceAddress, MacvlanMode } from "./router-spec.ts";

export const egressRouterApiVersion = "network.operator.openshift.io/v1";

export interface EgressRouterInput {
  readonly name: string | undefined;
  readonly namespace: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly source: SourceAddress;
  readonly gateway: string;
  /** `spec.addresses[1..]`: configured on the interface too */
  readonly extraAddresses: readonly InterfaceAddress[];
  /** the rules in EGRESS_DESTINATION form, for the ConfigMap */
  readonly rulesText: string;
  readonly rules: readonly RedirectRule[];
  readonly macvlan: { readonly master: string | undefined; readonly mode: MacvlanMode };
}

const macvlanModes: Record<string, MacvlanMode> = {
  Bridge: "bridge",
  Private: "private",
  VEPA: "vepa",
  Passthru: "passthru",
};
const protocols: Record<string, Protocol> = { TCP: "tcp", UDP: "udp", SCTP: "sctp" };

/** The fields each object of the resource may have (the CRD's schema). */
const knownFields: Record<string, readonly string[]> = {
  "": ["apiVersion", "kind", "metadata", "spec", "status"],
  spec: ["addresses", "mode", "networkInterface", "redirect"],
  "spec.addresses[]": ["ip", "gateway"],
  "spec.networkInterface": ["macvlan"],
  "spec.networkInterface.macvlan": ["mode", "master"],
  "spec.redirect": ["redirectRules", "fallbackIP"],
  "spec.redirect.redirectRules[]": ["destinationIP", "port", "protocol", "targetPort"],
};

type Path = readonly (string | number)[];

function pathText(path: Path): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out === "" ? "(document)" : out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return "empty";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

class Reader {
  readonly problems: ConfigProblem[] = [];
  private readonly doc: Document;
  private readonly lines: LineCounter;
  constructor(doc: Document, lines: LineCounter) {
    this.doc = doc;
    this.lines = lines;
  }

  lineOf(path: Path): number | undefined {
    for (let n = path.length; n >= 0; n--) {
      const node: unknown = n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | null)?.range;
      if (range) return this.lines.linePos(range[0]).line;
    }
    return undefined;
  }

  problem(path: Path, message: string): void {
    const setting = pathText(path);
    const line = this.lineOf(path);
    this.problems.push({
      code: "resource-invalid",
      setting,
      ...(line === undefined ? {} : { line }),
      message: `${setting}${line === undefined ? "" : ` line ${line}`}: ${message}`,
    });
  }

  /** Reports fields the CRD does not have (the API server would drop them without a word). */
  unknownFields(path: Path, schemaKey: string, obj: Record<string, unknown>): void {
    const known = knownFields[schemaKey] ?? [];
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
      this.problem(
        [...path, key],
        `Cannot use field "${shown(key)}": an EgressRouter has no such field ${schemaKey === "" ? "at the top" : `in ${schemaKey}`} (the API server would drop it silently); ${near ? `did you mean "${near}"?` : `use one of ${known.join(", ")}, or remove it`}`,
      );
    }
  }

  mapping(path: Path, v: unknown, what: string): Record<string, unknown> | undefined {
    if (isObject(v)) return v;
    this.problem(
      path,
      `Cannot read ${what}: it is ${describe(v)}, not a mapping; write it as "key: value" lines`,
    );
    return undefined;
  }

  string(path: Path, v: unknown, what: string, example: string): string | undefined {
    if (typeof v === "string") return v;
    this.problem(
      path,
      v === undefined || v === null
        ? `Cannot ${what}: the field is missing; add it, e.g. ${example}`
        : `Cannot ${what} from ${describe(v)}: it must be a string; write e.g. ${example}`,
    );
    return undefined;
  }

  /** `what` is the action with the value's noun, e.g. "listen on port". */
  port(path: Path, v: unknown, what: string): number | undefined {
    if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535) return v;
    if (v === undefined || v === null) {
      this.problem(path, `Cannot ${what}: the field is missing; add it, a number from 1 to 65535`);
    } else if (typeof v === "string") {
      this.problem(
        path,
        `Cannot ${what} "${shown(v)}": it is a quoted string and the API server takes a number; drop the quotes`,
      );
    } else {
      this.problem(
        path,
        `Cannot ${what} "${shown(String(JSON.stringify(v)))}": not a port; use a number from 1 to 65535`,
      );
    }
    return undefined;
  }
}

function readAddresses(
  r: Reader,
  spec: Record<string, unknown>,
): { source?: SourceAddress; gateway?: string; extra: InterfaceAddress[] } {
  const path = ["spec", "addresses"];
  const list = spec["addresses"];
  if (!Array.isArray(list) || list.length === 0) {
    r.problem(
      path,
      `Cannot set up the egress address: ${list === undefined ? "spec.addresses is missing" : Array.isArray(list) ? "the list is empty" : `it is ${describe(list)}, not a list`}; give the reserved address and its gateway, e.g. addresses: [{ip: 192.0.2.99/24, gateway: 192.0.2.1}]`,
    );
    return { extra: [] };
  }
  const all: InterfaceAddress[] = [];
  const seen = new Map<string, number>();
  list.forEach((item: unknown, i) => {
    const at = [...path, i];
    const a = r.mapping(at, item, `address ${i}`);
    if (!a) return;
    r.unknownFields(at, "spec.addresses[]", a);
    const ipText = r.string([...at, "ip"], a["ip"], "configure an address", "ip: 192.0.2.99/24");
    const ip = ipText === undefined ? undefined : parsePrefix(ipText.trim(), false);
    if (ipText !== undefined && !ip) {
      r.problem(
        [...at, "ip"],
        `Cannot configure "${shown(ipText)}": not an IPv4 or IPv6 address with an optional /prefix in range; write e.g. 192.0.2.99/24 or 2001:db8::99/64`,
      );
    }
    let gateway: string | undefined;
    if (a["gateway"] !== undefined) {
      const gwText = r.string([...at, "gateway"], a["gateway"], "route", "gateway: 192.0.2.1");
      const gw = gwText === undefined ? undefined : parseAddress(gwText.trim());
      if (gwText !== undefined && !gw) {
        r.problem(
          [...at, "gateway"],
          `Cannot route via "${shown(gwText)}": ${gwText.includes("/") ? "a gateway is one address, not a prefix; drop the /N" : "not an IPv4 or IPv6 address; write the next hop's address, e.g. 192.0.2.1"}`,
        );
      } else if (gw && ip && gw.family !== ip.family) {
        r.problem(
          [...at, "gateway"],
          `Cannot route via "${gw.address}": it is IPv${gw.family} but the address ${ip.address} is IPv${ip.family}; use a gateway of the address's family`,
        );
      } else if (gw) gateway = gw.address;
    } else if (i === 0) {
      r.problem(
        [...at, "gateway"],
        `Cannot route egress traffic: the first address has no gateway, and the router needs the next hop on the egress network; add gateway: <next hop>, e.g. gateway: 192.0.2.1`,
      );
    }
    if (!ip) return;
    const earlier = seen.get(ip.address);
    if (earlier !== undefined) {
      r.problem(
        [...at, "ip"],
        `Cannot configure "${ip.address}" twice: spec.addresses[${earlier}] has it already; remove one of them`,
      );
      return;
    }
    seen.set(ip.address, i);
    all.push({ address: ip.address, prefixLength: ip.prefixLength, family: ip.family, gateway });
  });
  const [first, ...extra] = all;
  if (!first || list.length !== all.length) return { extra };
  return {
    source: { address: first.address, prefixLength: first.prefixLength, family: first.family },
    ...(first.gateway === undefined ? {} : { gateway: first.gateway }),
    extra,
  };
}

function readRedirect(
  r: Reader,
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

function readMacvlan(r: Reader, spec: Record<string, unknown>): EgressRouterInput["macvlan"] {
  const dflt = { master: undefined, mode: "bridge" as const };
  const ni = spec["networkInterface"];
  if (ni === undefined) return dflt;
  const path = ["spec", "networkInterface"];
  const niObj = r.mapping(path, ni, "spec.networkInterface");
  if (!niObj) return dflt;
  r.unknownFields(path, "spec.networkInterface", niObj);
  if (niObj["macvlan"] === undefined) {
    r.problem(
      path,
      `Cannot create the interface: networkInterface has no macvlan (the only interface type); add macvlan: {mode: Bridge} or remove networkInterface`,
    );
    return dflt;
  }
  const mPath = [...path, "macvlan"];
  const m = r.mapping(mPath, niObj["macvlan"], "spec.networkInterface.macvlan");
  if (!m) return dflt;
  r.unknownFields(mPath, "spec.networkInterface.macvlan", m);
  let mode: MacvlanMode = "bridge";
  if (m["mode"] !== undefined) {
    const text = r.string([...mPath, "mode"], m["mode"], "choose the macvlan mode", "mode: Bridge");
    const found = text === undefined ? undefined : macvlanModes[text];
    if (text !== undefined && found === undefined) {
      r.problem(
        [...mPath, "mode"],
        `Cannot use macvlan mode "${shown(text)}": the EgressRouter takes ${Object.keys(macvlanModes).join(", ")} (case-sensitive); use one of them`,
      );
    } else if (found) mode = found;
  }
  let master: string | undefined;
  if (m["master"] !== undefined) {
    const text = r.string(
      [...mPath, "master"],
      m["master"],
      "choose the parent interface",
      "master: eth1",
    );
    const state = text === undefined ? undefined : valueChecks.interfaceName(text);
    if (text !== undefined && state !== undefined) {
      r.problem(
        [...mPath, "master"],
        `Cannot use "${shown(text)}" as the parent interface: ${state}; name the node's interface on the egress network, e.g. eth1`,
      );
    } else master = text;
  }
  return { master, mode };
}

function readMetadata(
  r: Reader,
  v: unknown,
): Pick<EgressRouterInput, "name" | "namespace" | "labels"> {
  const empty = { name: undefined, namespace: undefined, labels: {} };
  if (v === undefined) return empty;
  const m = r.mapping(["metadata"], v, "metadata");
  if (!m) return empty;
  const str = (k: string): string | undefined => {
    const x = m[k];
    if (x === undefined) return undefined;
    return r.string(["metadata", k], x, `use the ${k}`, `${k}: egress-1`);
  };
  const labels: Record<string, string> = {};
  if (m["labels"] !== undefined) {
    const l = r.mapping(["metadata", "labels"], m["labels"], "metadata.labels");
    for (const [k, x] of Object.entries(l ?? {})) {
      if (typeof x === "string") labels[k] = x;
      else
        r.problem(
          ["metadata", "labels", k],
          `Cannot use label "${shown(k)}": its value is ${describe(x)}; label values are strings (quote it)`,
        );
    }
  }
  return { name: str("name"), namespace: str("namespace"), labels };
}

/** Reads an EgressRouter from YAML text; `origin` names the file in messages about the file itself. */
export function readEgressRouter(
  text: string,
  origin: string,
): { value: EgressRouterInput | undefined; problems: ConfigProblem[] } {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const fileProblem = (
    message: string,
    line?: number,
  ): { value: undefined; problems: ConfigProblem[] } => ({
    value: undefined,
    problems: [
      {
        code: "resource-invalid",
        setting: origin,
        ...(line === undefined ? {} : { line }),
        message: `${origin}${line === undefined ? "" : ` line ${line}`}: ${message}`,
      },
    ],
  });
  if (!Array.isArray(docs))
    return fileProblem(
      "Cannot read an EgressRouter: the file is empty; pass a file with one EgressRouter resource",
    );
  const real = docs.filter((d) => d.contents !== null);
  for (const d of docs) {
    const err = d.errors[0];
    if (err) {
      const line = lineCounter.linePos(err.pos[0]).line;
      return fileProblem(
        `Cannot parse the YAML: ${err.message.split("\n")[0] ?? err.code}; fix the syntax there`,
        line,
      );
    }
  }
  if (real.length !== 1) {
    return fileProblem(
      real.length === 0
        ? "Cannot read an EgressRouter: the file has no YAML document; pass a file with one EgressRouter resource"
        : `Cannot read ${real.length} documents: one run generates one router; split the file and run once per EgressRouter`,
    );
  }
  const doc = real[0] as Document;
  const r = new Reader(doc, lineCounter);
  const top = doc.toJS() as unknown;
  if (!isMap(doc.contents) || !isObject(top)) {
    return fileProblem(
      `Cannot read an EgressRouter: the document is ${isSeq(doc.contents) ? "a list" : describe(top)}, not a resource; pass a file with one EgressRouter resource`,
    );
  }
  if (top["apiVersion"] !== egressRouterApiVersion || top["kind"] !== "EgressRouter") {
    r.problem(
      top["apiVersion"] !== egressRouterApiVersion ? ["apiVersion"] : ["kind"],
      `Cannot read ${typeof top["kind"] === "string" ? top["kind"] : "the resource"} of ${typeof top["apiVersion"] === "string" ? top["apiVersion"] : "no apiVersion"}: -f takes an EgressRouter of ${egressRouterApiVersion}; for the HTTP or DNS proxy, use the EGRESS_* variables or flags instead`,
    );
    return { value: undefined, problems: r.problems };
  }
  r.unknownFields([], "", top);
  const meta = readMetadata(r, top["metadata"]);
  if (top["spec"] === undefined || top["spec"] === null) {
    r.problem(
      ["spec"],
      "Cannot generate a router: the resource has no spec; add spec.addresses (the source address and gateway) and spec.redirect (the rules)",
    );
    return { value: undefined, problems: r.problems };
  }
  const spec = r.mapping(["spec"], top["spec"], "spec");
  if (!spec) return { value: undefined, problems: r.problems };
  r.unknownFields(["spec"], "spec", spec);
  if (spec["mode"] !== undefined && spec["mode"] !== "Redirect") {
    r.problem(
      ["spec", "mode"],
      `Cannot build mode "${typeof spec["mode"] === "string" ? shown(spec["mode"]) : describe(spec["mode"])}": Redirect is the EgressRouter's only mode; write mode: Redirect (for an HTTP or DNS proxy, use the EGRESS_* variables or flags instead)`,
    );
  }
  const addresses = readAddresses(r, spec);
  const lines = readRedirect(r, spec, addresses.source?.family);
  const macvlan = readMacvlan(r, spec);
  r.problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  if (r.problems.length > 0 || !addresses.source || addresses.gateway === undefined || !lines) {
    return { value: undefined, problems: r.problems };
  }
  const rulesText = [
    `# from EgressRouter ${meta.name ?? "(no name)"}, spec.redirect (egress-router manifests -f)`,
    ...lines,
    "",
  ].join("\n");
  const parsed = parseRedirectRules(rulesText);
  if (parsed.problems.length > 0) return { value: undefined, problems: [...parsed.problems] };
  return {
    value: {
      ...meta,
      source: addresses.source,
      gateway: addresses.gateway,
      extraAddresses: addresses.extra,
      rulesText,
      rules: parsed.rules,
      macvlan,
    },
    problems: [],
  };
}

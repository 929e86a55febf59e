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
import type { RedirectRule, SourceAddress } from "../config/types.ts";
import { readRedirect } from "./egress-router-redirect.ts";
import { describe, FieldReader, isObject } from "./field-reader.ts";
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

function readAddresses(
  r: FieldReader,
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

function readMacvlan(r: FieldReader, spec: Record<string, unknown>): EgressRouterInput["macvlan"] {
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
  r: FieldReader,
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
  const r = new FieldReader(doc, lineCounter, knownFields, "an EgressRouter");
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

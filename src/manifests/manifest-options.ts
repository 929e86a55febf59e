// The options of `egress-router manifests` that are not router settings: names, image,
// labels, network flavour, resources, who may connect. Each is checked here, at the edge,
// and a problem names the flag, the value and the fix.
import type { ConfigProblem } from "../config/config-error.ts";
import { valueChecks } from "../config/catalogue.ts";
import { shown } from "../config/rule-lines.ts";
import {
  checkImage,
  checkLabelKey,
  checkLabelValue,
  checkNamespace,
  checkObjectName,
  checkQuantity,
  checkRouterName,
} from "./k8s-names.ts";
import { reservedLabels } from "./object-meta.ts";
import type {
  ClientSelector,
  InterfaceType,
  IpvlanMode,
  MacvlanMode,
  NetworkKind,
  Resources,
  RouterSpec,
} from "./router-spec.ts";
import { interfaceTypes, ipvlanModes, macvlanModes, networkKinds } from "./router-spec.ts";

export const manifestOptionConfig = {
  file: { type: "string", short: "f" },
  name: { type: "string" },
  namespace: { type: "string", short: "n" },
  image: { type: "string" },
  "image-pull-policy": { type: "string" },
  "image-pull-secret": { type: "string", multiple: true },
  label: { type: "string", multiple: true },
  network: { type: "string" },
  "macvlan-master": { type: "string" },
  master: { type: "string" },
  "macvlan-mode": { type: "string" },
  "interface-type": { type: "string" },
  "ipvlan-mode": { type: "string" },
  "node-selector": { type: "string", multiple: true },
  "cpu-request": { type: "string" },
  "memory-request": { type: "string" },
  "cpu-limit": { type: "string" },
  "memory-limit": { type: "string" },
  "allow-from": { type: "string", multiple: true },
  "allow-metrics-from": { type: "string", multiple: true },
  "privileged-setup": { type: "boolean" },
  replicas: { type: "string" },
} as const;

export type OptionValues = Readonly<
  Record<string, string | boolean | readonly string[] | undefined>
>;

export const defaultResources: Resources = {
  cpuRequest: "100m",
  memoryRequest: "128Mi",
  cpuLimit: undefined,
  memoryLimit: "512Mi",
};

export interface ManifestOptions {
  readonly file: string | undefined;
  readonly name: string | undefined;
  readonly namespace: string | undefined;
  readonly image: string | undefined;
  readonly imagePullPolicy: RouterSpec["imagePullPolicy"];
  readonly imagePullSecrets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly network: NetworkKind | undefined;
  /** --master, or its older name --macvlan-master: the macvlan or ipvlan parent */
  readonly macvlanMaster: string | undefined;
  readonly macvlanMode: MacvlanMode | undefined;
  readonly interfaceType: InterfaceType | undefined;
  readonly ipvlanMode: IpvlanMode | undefined;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly resources: Resources;
  /** undefined: not given (the router's own namespace is the default) */
  readonly clients: readonly ClientSelector[] | undefined;
  readonly metricsNamespaces: readonly string[];
  readonly privilegedSetup: boolean;
  /** 1: the single-replica form; 2 or more: active/standby (redirect mode, docs/ha.md) */
  readonly replicas: number;
}

/** The most replicas --replicas takes: each needs a node of its own on the egress LAN. */
export const maxReplicas = 9;

const pullPolicies = ["Always", "IfNotPresent", "Never"] as const;

function one(values: OptionValues, key: string): string | undefined {
  const v = values[key];
  return typeof v === "string" ? v : undefined;
}
function many(values: OptionValues, key: string): readonly string[] {
  const v = values[key];
  return Array.isArray(v) ? (v as readonly string[]) : typeof v === "string" ? [v] : [];
}

export function readManifestOptions(values: OptionValues): {
  options: ManifestOptions;
  problems: ConfigProblem[];
} {
  const problems: ConfigProblem[] = [];
  /** `action` reads with the value after it, or where `{}` stands: `use {} as the router's name`. */
  const bad = (flag: string, action: string, value: string, stateAndFix: string): void => {
    const quoted = `"${shown(value)}"`;
    const what = action.includes("{}") ? action.replace("{}", quoted) : `${action} ${quoted}`;
    problems.push({
      code: "setting-invalid",
      setting: `--${flag}`,
      message: `--${flag}: Cannot ${what}: ${stateAndFix}`,
    });
  };
  const checked = (
    flag: string,
    action: string,
    check: (v: string) => string | undefined,
  ): string | undefined => {
    const v = one(values, flag);
    if (v === undefined) return undefined;
    const state = check(v);
    if (state !== undefined) bad(flag, action, v, state);
    return state === undefined ? v : undefined;
  };

  /** `key=value` pairs, for --label and --node-selector and pod selectors. */
  const pairs = (flag: string, items: readonly string[], what: string): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const item of items) {
      for (const part of item.split(",")) {
        const eq = part.indexOf("=");
        const key = eq < 0 ? part : part.slice(0, eq);
        const value = eq < 0 ? undefined : part.slice(eq + 1);
        const state =
          value === undefined
            ? `not key=value; write e.g. ${what === "node selector" ? "node-role.kubernetes.io/egress=true" : "team=payments"}`
            : (checkLabelKey(key) ?? checkLabelValue(value));
        if (state !== undefined) bad(flag, `use ${what}`, part, state);
        else if (flag === "label" && reservedLabels.includes(key))
          bad(
            flag,
            `use ${what}`,
            part,
            `the generator sets ${key} itself (the selector depends on it); choose another key`,
          );
        else if (value !== undefined) out[key] = value;
      }
    }
    return out;
  };

  const name = checked("name", "use {} as the router's name", checkRouterName);
  const namespace = checked("namespace", "use namespace", checkNamespace);
  const image = checked("image", "use image", checkImage);
  if (one(values, "image") === undefined) {
    problems.push({
      code: "setting-invalid",
      setting: "--image",
      message:
        "--image: Cannot generate a Deployment without an image: no public registry holds it; build and push the image (docs/kubernetes.md), then pass --image registry.example.com/egress-router:<version>",
    });
  }
  const policyText = one(values, "image-pull-policy");
  let imagePullPolicy: RouterSpec["imagePullPolicy"] = "IfNotPresent";
  if (policyText !== undefined) {
    const found = pullPolicies.find((p) => p === policyText);
    if (found) imagePullPolicy = found;
    else
      bad(
        "image-pull-policy",
        "use pull policy",
        policyText,
        `use one of ${pullPolicies.join(", ")}`,
      );
  }
  const imagePullSecrets = many(values, "image-pull-secret").filter((s) => {
    const state = checkObjectName(s);
    if (state !== undefined)
      bad(
        "image-pull-secret",
        "use secret",
        s,
        `${state}; give the name of a docker-registry Secret in the router's namespace`,
      );
    return state === undefined;
  });

  const networkText = one(values, "network");
  let network: NetworkKind | undefined;
  if (networkText !== undefined) {
    network = networkKinds.find((k) => k === networkText);
    if (!network)
      bad(
        "network",
        "attach the router with",
        networkText,
        `use openshift-sdn (the pod.network.openshift.io/assign-macvlan annotation) or multus (a NetworkAttachmentDefinition)`,
      );
  }
  const masterCheck = (v: string) =>
    valueChecks.interfaceName(v) === undefined
      ? undefined
      : `${valueChecks.interfaceName(v)}; name the node's interface on the egress network, e.g. eth1`;
  const masterByNewName = checked("master", "use parent interface", masterCheck);
  const masterByOldName = checked("macvlan-master", "use parent interface", masterCheck);
  if (
    masterByNewName !== undefined &&
    masterByOldName !== undefined &&
    masterByNewName !== masterByOldName
  ) {
    bad(
      "master",
      "use parent interface",
      masterByNewName,
      `--macvlan-master says "${shown(masterByOldName)}"; they name the same thing, give one`,
    );
  }
  const macvlanMaster = masterByNewName ?? masterByOldName;
  const typeText = one(values, "interface-type");
  let interfaceType: InterfaceType | undefined;
  if (typeText !== undefined) {
    interfaceType = interfaceTypes.find((t) => t === typeText);
    if (!interfaceType)
      bad(
        "interface-type",
        "create an interface of type",
        typeText,
        `use macvlan (a MAC address of its own) or ipvlan (the node's MAC address; docs/networks.md)`,
      );
  }
  const ipvlanText = one(values, "ipvlan-mode");
  let ipvlanMode: IpvlanMode | undefined;
  if (ipvlanText !== undefined) {
    ipvlanMode = ipvlanModes.find((m) => m === ipvlanText);
    if (!ipvlanMode)
      bad("ipvlan-mode", "use ipvlan mode", ipvlanText, `use one of ${ipvlanModes.join(", ")}`);
  }
  const modeText = one(values, "macvlan-mode");
  let macvlanMode: MacvlanMode | undefined;
  if (modeText !== undefined) {
    macvlanMode = macvlanModes.find((m) => m === modeText);
    if (!macvlanMode)
      bad("macvlan-mode", "use macvlan mode", modeText, `use one of ${macvlanModes.join(", ")}`);
  }

  const quantity = (
    flag: string,
    action: string,
    dflt: string | undefined,
    unset: boolean,
  ): string | undefined => {
    const v = one(values, flag);
    if (v === undefined) return dflt;
    if (unset && v === "none") return undefined;
    const state = checkQuantity(v);
    if (state !== undefined)
      bad(flag, action, v, unset ? `${state}, or "none" for no limit` : state);
    return state === undefined ? v : dflt;
  };
  const resources: Resources = {
    cpuRequest:
      quantity("cpu-request", "request {} of CPU", defaultResources.cpuRequest, false) ??
      defaultResources.cpuRequest,
    memoryRequest:
      quantity("memory-request", "request {} of memory", defaultResources.memoryRequest, false) ??
      defaultResources.memoryRequest,
    cpuLimit: quantity("cpu-limit", "limit CPU to {}", defaultResources.cpuLimit, true),
    memoryLimit: quantity("memory-limit", "limit memory to {}", defaultResources.memoryLimit, true),
  };

  const namespaceOf = (flag: string, text: string): string | undefined | null => {
    if (text === "*") return undefined;
    const state = checkNamespace(text);
    if (state === undefined) return text;
    bad(flag, "admit namespace", text, `${state}, or * for every namespace`);
    return null;
  };
  const allowFrom = many(values, "allow-from");
  const clients: ClientSelector[] = [];
  for (const item of allowFrom) {
    const slash = item.indexOf("/");
    const nsText = slash < 0 ? item : item.slice(0, slash);
    const ns = namespaceOf("allow-from", nsText);
    const podLabels = slash < 0 ? {} : pairs("allow-from", [item.slice(slash + 1)], "pod selector");
    if (ns !== null) clients.push({ namespace: ns, podLabels });
  }
  const metricsNamespaces: string[] = [];
  for (const item of many(values, "allow-metrics-from")) {
    const state = checkNamespace(item);
    if (state !== undefined) bad("allow-metrics-from", "admit namespace", item, state);
    else metricsNamespaces.push(item);
  }

  const replicasText = one(values, "replicas");
  let replicas = 1;
  if (replicasText !== undefined) {
    if (
      /^\d{1,2}$/.test(replicasText) &&
      Number(replicasText) >= 1 &&
      Number(replicasText) <= maxReplicas
    )
      replicas = Number(replicasText);
    else
      bad(
        "replicas",
        "run",
        replicasText,
        `not a number of replicas; use 1 (one router pod) or 2 to ${maxReplicas} (an active/standby set, one pod per node)`,
      );
  }

  return {
    options: {
      file: one(values, "file"),
      name,
      namespace,
      image,
      imagePullPolicy,
      imagePullSecrets,
      labels: pairs("label", many(values, "label"), "label"),
      network,
      macvlanMaster,
      macvlanMode,
      interfaceType,
      ipvlanMode,
      nodeSelector: pairs("node-selector", many(values, "node-selector"), "node selector"),
      resources,
      clients: allowFrom.length > 0 ? clients : undefined,
      metricsNamespaces,
      privilegedSetup: values["privileged-setup"] === true,
      replicas,
    },
    problems,
  };
}

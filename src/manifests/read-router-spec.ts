// Settings (flags > variables > files, exactly as the router reads them) or an EgressRouter,
// plus the manifest options, into one checked RouterSpec. The rules go through the router's own
// grammars, so what is generated is what the router will accept.
import type { ConfigProblem } from "../config/config-error.ts";
import { settings, type SettingKey } from "../config/catalogue.ts";
import { parseDnsProxyRules } from "../config/dns-proxy-rules.ts";
import { parseHttpRules } from "../config/http-rules.ts";
import { readSetting, valueProblem, type Env, type Flags } from "../config/read-setting.ts";
import { checkRedirectFamilies, parseRedirectRules } from "../config/redirect-rules.ts";
import { parseGateway, parseSource } from "../config/router-addresses.ts";
import { shown } from "../config/rule-lines.ts";
import type { SourceAddress } from "../config/types.ts";
import { rulesSetting } from "./build-config-map.ts";
import type { EgressRouterInput } from "./egress-router-resource.ts";
import { checkLabelKey, checkLabelValue, checkNamespace, checkRouterName } from "./k8s-names.ts";
import type { ManifestOptions } from "./manifest-options.ts";
import { isPresent, kindNames, passThroughEnv } from "./setting-placement.ts";
import { reservedLabels } from "./object-meta.ts";
import { readHaSettings } from "../ha/ha-settings.ts";
import { routerPorts } from "./router-ports.ts";
import type { NetworkAttachment, RouterKind, RouterRules, RouterSpec } from "./router-spec.ts";

const ruleKinds: readonly RouterKind[] = ["redirect", "http-proxy", "dns-proxy"];

/** Which router the settings describe: EGRESS_ROUTER_MODE if given, else the one rules setting present. */
function selectKind(env: Env, flags: Flags, problems: ConfigProblem[]): RouterKind | undefined {
  const present = ruleKinds.filter((k) => isPresent(rulesSetting(k), env, flags));
  const modeText = readSetting(settings.mode, env, flags).setting.value;
  if (modeText !== undefined) {
    const byMode: Record<string, RouterKind> = {
      "": "redirect",
      init: "redirect",
      legacy: "redirect",
      "http-proxy": "http-proxy",
      "dns-proxy": "dns-proxy",
    };
    const kind = byMode[modeText];
    if (kind === undefined) {
      problems.push({
        code: "mode-unknown",
        setting: settings.mode.env,
        message: `EGRESS_ROUTER_MODE: Cannot generate manifests for mode "${shown(modeText)}": ${modeText === "unit-test" ? "unit-test only prints rules" : "unknown mode"}; use legacy/init (redirect), http-proxy or dns-proxy, or leave it unset and give one rules setting`,
      });
      return undefined;
    }
    return kind;
  }
  if (present.length === 1) return present[0];
  problems.push({
    code: "rules-missing",
    setting:
      present.length === 0 ? "EGRESS_DESTINATION" : rulesSetting(present[0] ?? "redirect").env,
    message:
      present.length === 0
        ? "manifests: Cannot tell which router to generate: no rules are given; set one of EGRESS_DESTINATION (redirect), EGRESS_HTTP_PROXY_DESTINATION (HTTP proxy) or EGRESS_DNS_PROXY_DESTINATION (DNS proxy), as a variable, a flag or a file, or pass an EgressRouter with -f"
        : `manifests: Cannot generate one router from ${present.map((k) => rulesSetting(k).env).join(" and ")}: each router runs one mode; keep one of them, or run manifests once per router with a different --name`,
  });
  return undefined;
}

function readRules(
  kind: RouterKind,
  env: Env,
  flags: Flags,
  problems: ConfigProblem[],
  httpPort: number,
): RouterRules | undefined {
  const spec = rulesSetting(kind);
  const r = readSetting(spec, env, flags);
  problems.push(...r.problems);
  if (r.problems.length > 0) return undefined;
  const text = r.setting.value;
  switch (kind) {
    case "redirect": {
      const p = parseRedirectRules(text, spec.env);
      problems.push(...p.problems);
      return p.problems.length > 0 ? undefined : { kind, rules: p.rules, text: text ?? "" };
    }
    case "http-proxy": {
      const p = parseHttpRules(text, spec.env);
      problems.push(...p.problems);
      return p.problems.length > 0
        ? undefined
        : { kind, rules: p.rules, text: text ?? "", port: httpPort };
    }
    case "dns-proxy": {
      const p = parseDnsProxyRules(text, spec.env);
      problems.push(...p.problems);
      return p.problems.length > 0 ? undefined : { kind, rules: p.rules, text: text ?? "" };
    }
  }
}

/** Reads and checks a setting with its catalogue check; returns the value if it was set and valid. */
function checkSetting(
  key: SettingKey,
  env: Env,
  flags: Flags,
  problems: ConfigProblem[],
): { value: string; explicit: boolean } | undefined {
  const spec = settings[key];
  const r = readSetting(spec, env, flags);
  problems.push(...r.problems);
  const value = r.setting.value;
  if (value === undefined) return undefined;
  const problem = valueProblem(spec, value);
  if (problem) {
    problems.push(problem);
    return undefined;
  }
  return { value, explicit: r.setting.origin !== "default" };
}

function network(
  options: ManifestOptions,
  resource: EgressRouterInput | undefined,
  egressInterface: { value: string; explicit: boolean } | undefined,
  problems: ConfigProblem[],
): NetworkAttachment | undefined {
  const kind = options.network ?? (resource ? "multus" : "openshift-sdn");
  const master = options.macvlanMaster ?? resource?.macvlan.master;
  const mode = options.macvlanMode ?? resource?.macvlan.mode ?? "bridge";
  const problem = (setting: string, message: string): undefined => {
    problems.push({ code: "setting-invalid", setting, message });
    return undefined;
  };
  const type = options.interfaceType ?? "macvlan";
  const modeSetting = options.macvlanMode ? "--macvlan-mode" : "spec.networkInterface.macvlan.mode";
  if (kind === "openshift-sdn") {
    if (type !== "macvlan" || options.ipvlanMode)
      return problem(
        "--interface-type",
        `--interface-type: Cannot use "ipvlan" with --network openshift-sdn: the SDN always creates a macvlan (macvlan0); use --network multus for an ipvlan interface`,
      );
    if (egressInterface?.explicit && egressInterface.value !== "macvlan0")
      return problem(
        "EGRESS_INTERFACE",
        `EGRESS_INTERFACE: Cannot use "${shown(egressInterface.value)}" with --network openshift-sdn: the SDN always names the interface macvlan0; unset EGRESS_INTERFACE, or use --network multus`,
      );
    if (mode !== "bridge")
      return problem(
        options.macvlanMode ? "--macvlan-mode" : "spec.networkInterface.macvlan.mode",
        `${options.macvlanMode ? "--macvlan-mode" : "spec.networkInterface.macvlan.mode"}: Cannot use macvlan mode "${mode}" with --network openshift-sdn: the SDN creates macvlan0 itself and takes no mode; drop the mode, or use --network multus`,
      );
    if (resource && resource.extraAddresses.length > 0)
      return problem(
        "spec.addresses",
        `spec.addresses: Cannot configure ${resource.extraAddresses.length + 1} addresses with --network openshift-sdn: the SDN's macvlan0 gets only the source address (spec.addresses[0]); use --network multus, whose static IPAM configures every address`,
      );
    return { kind, parent: master };
  }
  const interfaceName = egressInterface?.explicit ? egressInterface.value : "net1";
  const extraAddresses = resource?.extraAddresses ?? [];
  if (type === "macvlan") {
    if (options.ipvlanMode)
      return problem(
        "--ipvlan-mode",
        `--ipvlan-mode: Cannot use ipvlan mode "${options.ipvlanMode}" with a macvlan interface: add --interface-type ipvlan, or drop the mode`,
      );
    return { kind, master, link: { type, mode }, interfaceName, extraAddresses };
  }
  if (mode !== "bridge")
    return problem(
      modeSetting,
      `${modeSetting}: Cannot use macvlan mode "${mode}" with --interface-type ipvlan: an ipvlan interface takes --ipvlan-mode (l2, l3, l3s); drop the macvlan mode`,
    );
  return {
    kind,
    master,
    link: { type, mode: options.ipvlanMode ?? "l2" },
    interfaceName,
    extraAddresses,
  };
}

/**
 * What an active/standby set (--replicas 2 or more) needs beyond one router: redirect mode,
 * a virtual router id, VRRP over IPv6 multicast (the replicas share one pod template, so
 * none has a LAN address of its own for unicast peers), and no address but the source
 * address on the egress interface (it moves; extra static addresses cannot be shared).
 */
function activeStandbyProblems(
  replicas: number,
  kind: RouterKind | undefined,
  source: SourceAddress | undefined,
  net: NetworkAttachment | undefined,
  env: Env,
  flags: Flags,
  known: readonly ConfigProblem[],
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (kind !== undefined && kind !== "redirect") {
    problems.push({
      code: "setting-invalid",
      setting: "--replicas",
      message: `--replicas: Cannot run ${replicas} replicas of ${kindNames[kind]}: only redirect mode has an active/standby form (egress-router ha run, docs/ha.md); use --replicas 1`,
    });
    return problems;
  }
  const ha = readHaSettings({ [settings.haElection.env]: "keepalived", ...env }, flags, source);
  const reported = new Set(known.map((p) => p.setting));
  for (const p of ha.problems) if (!reported.has(p.setting)) problems.push(p);
  const s = ha.settings;
  if (s?.election === "none") {
    problems.push({
      code: "setting-invalid",
      setting: settings.haElection.env,
      message: `${settings.haElection.env}: Cannot run ${replicas} replicas with election "none": only one pod may hold the source address; unset it (the replicas elect the holder with keepalived) or use --replicas 1`,
    });
  }
  if (s && s.peers.length > 0) {
    problems.push({
      code: "setting-invalid",
      setting: settings.haPeers.env,
      message: `${settings.haPeers.env}: Cannot use unicast peers in generated manifests: the replicas share one pod template, so none has an address of its own on the egress LAN; leave it empty (VRRP over IPv6 link-local multicast)`,
    });
  }
  if (net?.kind === "multus" && net.extraAddresses.length > 0) {
    problems.push({
      code: "setting-invalid",
      setting: "spec.addresses",
      message: `spec.addresses: Cannot give ${replicas} replicas the same ${net.extraAddresses.length} extra address${net.extraAddresses.length === 1 ? "" : "es"}: only the source address moves with the holder, and a static address on every replica would be on the LAN ${replicas} times; keep only spec.addresses[0], or use --replicas 1`,
    });
  }
  return problems;
}

export function readRouterSpec(
  env: Env,
  flags: Flags,
  options: ManifestOptions,
  resource: EgressRouterInput | undefined,
): { spec: RouterSpec | undefined; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  // Each setting is read and checked once, so a bad value is reported once.
  const seen = new Map<SettingKey, ReturnType<typeof checkSetting>>();
  const checkedSetting = (key: SettingKey, e: Env, f: Flags, p: ConfigProblem[]) => {
    if (!seen.has(key)) seen.set(key, checkSetting(key, e, f, p));
    return seen.get(key);
  };

  // With -f, the resource is the whole router definition; the same thing twice would compete.
  if (resource) {
    for (const key of [
      "mode",
      "source",
      "gateway",
      "destination",
      "httpProxyDestination",
      "dnsProxyDestination",
    ] as const) {
      const spec = settings[key];
      if (isPresent(spec, env, flags))
        problems.push({
          code: "setting-invalid",
          setting: spec.env,
          message: `${spec.env}: Cannot use it with -f: the EgressRouter defines the ${key === "mode" ? "mode (Redirect)" : key === "source" || key === "gateway" ? "addresses (spec.addresses)" : "rules (spec.redirect)"}; unset ${spec.env} (variable and --${spec.flag}) or drop -f`,
        });
    }
  }
  const kind: RouterKind | undefined = resource ? "redirect" : selectKind(env, flags, problems);

  const httpPort = checkedSetting("httpProxyPort", env, flags, problems);
  const adminPort = checkedSetting("adminPort", env, flags, problems);
  const drain = checkedSetting("drainSeconds", env, flags, problems);
  const egressInterface = checkedSetting("egressInterface", env, flags, problems);
  const clusterInterface = checkedSetting("clusterInterface", env, flags, problems);

  let rules: RouterRules | undefined;
  let source: SourceAddress | undefined;
  let gateway: string | undefined;
  if (resource) {
    rules = { kind: "redirect", rules: resource.rules, text: resource.rulesText };
    source = resource.source;
    gateway = resource.gateway;
  } else if (kind) {
    const s = parseSource(readSetting(settings.source, env, flags).setting.value);
    problems.push(...s.problems);
    const g = parseGateway(readSetting(settings.gateway, env, flags).setting.value, s.value);
    problems.push(...g.problems);
    source = s.value;
    gateway = g.value?.address;
    rules = readRules(
      kind,
      env,
      flags,
      problems,
      Number(httpPort?.value ?? settings.httpProxyPort.default),
    );
    if (rules?.kind === "redirect" && source)
      problems.push(...checkRedirectFamilies(source, rules.rules, settings.destination.env));
  }

  const env_ = passThroughEnv(kind, env, flags, problems, checkedSetting);

  const admin = Number(adminPort?.value ?? settings.adminPort.default);
  if (admin === 0)
    problems.push({
      code: "setting-invalid",
      setting: settings.adminPort.env,
      message: `EGRESS_ADMIN_PORT: Cannot deploy with the admin server off ("0"): the readiness and liveness probes use it; use a port such as 9090`,
    });
  if (rules) {
    const clash = routerPorts(rules).ports.find((p) => p.port === admin);
    if (clash)
      problems.push({
        code: "setting-invalid",
        setting: settings.adminPort.env,
        message: `EGRESS_ADMIN_PORT: Cannot use port "${admin}" for the admin server: the rules use it for ${clash.protocol} traffic (${rulesSetting(rules.kind).env}); choose another EGRESS_ADMIN_PORT or another rule port`,
      });
  }

  const net = network(options, resource, egressInterface, problems);
  if (options.replicas > 1)
    problems.push(
      ...activeStandbyProblems(options.replicas, kind, source, net, env, flags, problems),
    );
  const name = options.name ?? resource?.name ?? "egress-router";
  const namespace = options.namespace ?? resource?.namespace ?? "default";
  // The resource's metadata is used as is (unless a flag overrides it): it must be valid too.
  const metaProblem = (field: string, value: string, state: string | undefined): void => {
    if (state !== undefined)
      problems.push({
        code: "resource-invalid",
        setting: field,
        message: `${field}: Cannot use "${shown(value)}": ${state}, or override it with --${field === "metadata.name" ? "name" : "namespace"}`,
      });
  };
  if (options.name === undefined && resource?.name !== undefined)
    metaProblem("metadata.name", resource.name, checkRouterName(resource.name));
  if (options.namespace === undefined && resource?.namespace !== undefined)
    metaProblem("metadata.namespace", resource.namespace, checkNamespace(resource.namespace));
  for (const [k, v] of Object.entries(resource?.labels ?? {})) {
    const state = reservedLabels.includes(k)
      ? `the generator sets ${k} itself`
      : (checkLabelKey(k) ?? checkLabelValue(v));
    if (state !== undefined)
      problems.push({
        code: "resource-invalid",
        setting: `metadata.labels`,
        message: `metadata.labels: Cannot copy label "${shown(`${k}=${v}`)}" to the generated objects: ${state}; fix or remove it`,
      });
  }
  if (
    problems.length > 0 ||
    !kind ||
    !rules ||
    !source ||
    gateway === undefined ||
    !net ||
    options.image === undefined
  )
    return { spec: undefined, problems };
  const drainSeconds = Math.ceil(Number(drain?.value ?? settings.drainSeconds.default));
  return {
    spec: {
      name,
      namespace,
      image: options.image,
      imagePullPolicy: options.imagePullPolicy,
      imagePullSecrets: options.imagePullSecrets,
      labels: { ...(resource?.labels ?? {}), ...options.labels },
      replicas: options.replicas,
      rules,
      source,
      gateway,
      network: net,
      env: env_,
      clusterInterface: clusterInterface?.explicit ? clusterInterface.value : undefined,
      adminPort: admin,
      drainSeconds,
      resources: options.resources,
      nodeSelector: options.nodeSelector,
      clients: options.clients ?? [{ namespace, podLabels: {} }],
      metricsNamespaces: options.metricsNamespaces,
      privilegedSetup: options.privilegedSetup,
    },
    problems,
  };
}

// `egress-router manifests`: ready-to-apply YAML on stdout for one router, from the same
// flags, variables and files the router reads, or from an OpenShift EgressRouter (-f).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError, type ConfigProblem } from "../config/config-error.ts";
import { fileErrorState, type Env } from "../config/read-setting.ts";
import { buildManifests } from "../manifests/build-manifests.ts";
import { readEgressRouter, type EgressRouterInput } from "../manifests/egress-router-resource.ts";
import {
  defaultResources,
  manifestOptionConfig,
  readManifestOptions,
  type OptionValues,
} from "../manifests/manifest-options.ts";
import { networkSetupPrivileges } from "../manifests/privileges.ts";
import { readRouterSpec } from "../manifests/read-router-spec.ts";
import type { RouterSpec } from "../manifests/router-spec.ts";
import { toYaml } from "../manifests/to-yaml.ts";
import { UsageError, type Command } from "./command.ts";
import { allSettingKeys, settingFlagHelp, settingFlagOptions } from "./flags.ts";

const help = `Usage: egress-router manifests [options] [settings flags]
       egress-router manifests -f egressrouter.yaml [options]

Writes the Kubernetes objects for one router to stdout, ready for kubectl apply -f -:
a ServiceAccount, the NetworkAttachmentDefinition (with --network multus), a ConfigMap
with the rules (mounted as files: edit it and the router reloads), the Deployment (one
pod, Recreate; a network-setup init container with NET_ADMIN and NET_RAW, the mode's
container with least privilege, probes on the admin port), a Service with exactly the
ports the rules use, and a NetworkPolicy that admits only the clients you name.

The router is chosen and configured exactly as the router itself would be: by the
EGRESS_* variables, their flags or files (flags win). Give one rules setting:
EGRESS_DESTINATION (redirect), EGRESS_HTTP_PROXY_DESTINATION (HTTP proxy) or
EGRESS_DNS_PROXY_DESTINATION (DNS proxy), plus EGRESS_SOURCE and EGRESS_GATEWAY.
Or pass an OpenShift EgressRouter (network.operator.openshift.io/v1) with -f; every
field is honoured (fallbackIP, macvlan master and mode, every address).

Options:
  -f, --file <path>              an EgressRouter resource (- for stdin); network defaults to multus
  --name <name>                  object names (default: egress-router, or metadata.name)
  -n, --namespace <namespace>    namespace (default: default, or metadata.namespace)
  --image <reference>            the router image (required), e.g. registry.example.com/egress-router:0.1.0
  --image-pull-policy <policy>   Always, IfNotPresent (default) or Never
  --image-pull-secret <name>     a docker-registry Secret for the image (repeatable)
  --label <key=value>            an extra label on every object (repeatable)
  --network <flavour>            openshift-sdn (default without -f): the assign-macvlan annotation;
                                 multus (default with -f): a NetworkAttachmentDefinition
  --interface-type <type>        Multus only: macvlan (default; a MAC address of its own) or ipvlan
                                 (the node's own MAC, for networks that drop or limit extra MACs:
                                 VMware, OpenStack port security; see docs/networks.md)
  --master <interface>           the node's interface on the egress network (SDN: the annotation's
                                 value instead of "true"; Multus: the macvlan or ipvlan master);
                                 also --macvlan-master
  --macvlan-mode <mode>          Multus macvlan: bridge (default), private, vepa or passthru
  --ipvlan-mode <mode>           Multus ipvlan: l2 (default), l3 or l3s (l3 and l3s need a route to
                                 the source address via the node on the LAN: docs/networks.md)
  --node-selector <key=value>    run only on matching nodes (repeatable)
  --cpu-request <quantity>       default ${defaultResources.cpuRequest}
  --memory-request <quantity>    default ${defaultResources.memoryRequest}
  --cpu-limit <quantity|none>    default none
  --memory-limit <quantity|none> default ${defaultResources.memoryLimit}
  --allow-from <who>             clients the NetworkPolicy admits (repeatable): a namespace,
                                 namespace/key=value[,key=value] for labelled pods in it, * for
                                 every namespace (*/key=value: labelled pods anywhere);
                                 default: every pod in the router's namespace
  --allow-metrics-from <ns>      a namespace that may scrape the admin port (repeatable)
  --privileged-setup             run the network-setup init container privileged even for IPv4
                                 (only for nodes whose net.ipv4.ip_forward is off; IPv6 always is)
  --replicas <n>                 1 (default): one router pod; 2 to 9 (redirect mode): an
                                 active/standby set — keepalived elects the pod that holds the
                                 source address (needs EGRESS_HA_VRID), one pod per node, ready
                                 only while holding, a PodDisruptionBudget; see docs/ha.md

Examples:
  egress-router manifests --image registry.example.com/egress-router:0.1.0 -n payments \\
    --source 192.0.2.99/24 --gateway 192.0.2.1 --destination '443 tcp 203.0.113.25' \\
    | kubectl apply -f -
  EGRESS_HTTP_PROXY_DESTINATION_FILE=rules.txt EGRESS_SOURCE=192.0.2.99 EGRESS_GATEWAY=192.0.2.1 \\
    egress-router manifests --image registry.example.com/egress-router:0.1.0 \\
    --network multus --macvlan-master eth1 --allow-from shop/app=checkout
  egress-router manifests --image registry.example.com/egress-router:0.1.0 -n payments \\
    --source 192.0.2.99/24 --gateway 192.0.2.1 --destination '443 tcp 203.0.113.25' \\
    --network multus --interface-type ipvlan --master ens192
  egress-router manifests -f egressrouter.yaml --image registry.example.com/egress-router:0.1.0
  egress-router manifests --image registry.example.com/egress-router:0.1.0 -n payments \\
    --source 192.0.2.99/24 --gateway 192.0.2.1 --destination '443 tcp 203.0.113.25' \\
    --replicas 2 --ha-vrid 42

Settings flags:
${settingFlagHelp(allSettingKeys)}
`;

function readResource(path: string): {
  value: EgressRouterInput | undefined;
  problems: ConfigProblem[];
} {
  let text: string;
  try {
    text = readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (err) {
    const state = fileErrorState(err);
    return {
      value: undefined,
      problems: [
        {
          code: "file-unreadable",
          setting: "--file",
          message: `--file: Cannot read "${path}": ${state}; pass the path of an EgressRouter YAML file, or - for stdin`,
        },
      ],
    };
  }
  return readEgressRouter(text, path === "-" ? "(stdin)" : path);
}

function header(spec: RouterSpec): string[] {
  const setup = networkSetupPrivileges(spec.source.family, spec.privilegedSetup);
  const how = setup.privileged
    ? "privileged (it writes kernel settings under /proc/sys)"
    : `as root with ${setup.capabilities.join(" and ")} only`;
  return [
    `egress-router manifests: ${spec.rules.kind} router "${spec.name}" in namespace "${spec.namespace}", network ${spec.network.kind}${spec.network.kind === "multus" ? ` (${spec.network.link.type} ${spec.network.link.mode})` : ""}`,
    `The network-setup init container runs ${how}; see docs/kubernetes.md, "Privileges".`,
  ];
}

/** The whole command but the printing: the YAML, or a ConfigError/UsageError with every problem. */
export function generateManifests(args: readonly string[], env: Env): string {
  let values: OptionValues;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: { ...settingFlagOptions(allSettingKeys), ...manifestOptionConfig },
      allowPositionals: false,
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(
      `egress-router manifests: ${(err as Error).message}; see egress-router manifests --help`,
    );
  }
  const flags: Record<string, string | boolean | undefined> = {};
  for (const [k, v] of Object.entries(values)) {
    if (!(k in manifestOptionConfig) && (typeof v === "string" || typeof v === "boolean"))
      flags[k] = v;
  }
  const { options, problems } = readManifestOptions(values);
  let resource: EgressRouterInput | undefined;
  if (options.file !== undefined) {
    const r = readResource(options.file);
    problems.push(...r.problems);
    resource = r.value;
    if (!resource) throw new ConfigError(problems);
  }
  const { spec, problems: specProblems } = readRouterSpec(env, flags, options, resource);
  problems.push(...specProblems);
  if (problems.length > 0 || !spec) throw new ConfigError(problems);
  return toYaml(buildManifests(spec), header(spec));
}

export const manifestsCommand: Command = {
  name: "manifests",
  summary:
    "write the Kubernetes objects for a router (YAML on stdout), from settings or an EgressRouter",
  help,
  run(args, env) {
    process.stdout.write(generateManifests(args, env));
    return Promise.resolve(0);
  },
};

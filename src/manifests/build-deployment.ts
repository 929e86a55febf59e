// The router's Deployment: one pod (Recreate, so two pods never hold the source address at
// once), an init container that sets up the pod's network, and the mode's container with the
// least privilege it can run with (see privileges.ts).
//
// With several replicas (redirect mode), an active/standby set (docs/ha.md): each pod runs
// `egress-router ha run` alone (it sets up its own network; only the elected holder adds the
// source address), pods repel each other across nodes (a node failure must leave a standby),
// and readiness is holding the address, so the Service sends traffic to the holder only.
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { IProbe } from "kubernetes-models/v1/Probe";
import type { ISecurityContext } from "kubernetes-models/v1/SecurityContext";
import { rulesFileEnv } from "./build-config-map.ts";
import { egressInterfaceName, networkAnnotations } from "./build-network-attachment.ts";
import { configMapName, objectLabels, objectMeta, selectorLabels } from "./object-meta.ts";
import type { ContainerPrivileges } from "./privileges.ts";
import { activeStandbyPrivileges, mainPrivileges, networkSetupPrivileges } from "./privileges.ts";
import { routerPorts } from "./router-ports.ts";
import type { RouterKind, RouterSpec } from "./router-spec.ts";
import { rulesMountPath } from "./router-spec.ts";

type EnvList = NonNullable<IContainer["env"]>;

/** What EGRESS_ROUTER_MODE the network-setup init container runs in, per mode. */
const setupMode: Record<RouterKind, string> = {
  redirect: "init", // network + NAT, then exit
  "http-proxy": "http-proxy", // network only, then exit
  "dns-proxy": "dns-proxy",
};

/** Linux's default first unprivileged port (net.ipv4.ip_unprivileged_port_start). */
const firstUnprivilegedPort = 1024;

function securityContext(p: ContainerPrivileges): ISecurityContext {
  const base = {
    runAsUser: p.runAsUser,
    runAsNonRoot: p.runAsUser !== 0,
    // The API server refuses privileged with allowPrivilegeEscalation false.
    allowPrivilegeEscalation: p.privileged,
    privileged: p.privileged,
    readOnlyRootFilesystem: true,
  };
  // A privileged container gets every capability whatever the list says; listing some would mislead.
  if (p.privileged) return base;
  return {
    ...base,
    capabilities: {
      drop: ["ALL"],
      ...(p.capabilities.length > 0 ? { add: [...p.capabilities] } : {}),
    },
  };
}

function resources(spec: RouterSpec): NonNullable<IContainer["resources"]> {
  const r = spec.resources;
  const limits: Record<string, string> = {};
  if (r.cpuLimit !== undefined) limits["cpu"] = r.cpuLimit;
  if (r.memoryLimit !== undefined) limits["memory"] = r.memoryLimit;
  return {
    requests: { cpu: r.cpuRequest, memory: r.memoryRequest },
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  };
}

function addressEnv(spec: RouterSpec): EnvList {
  const s = spec.source;
  const hostPrefix = s.family === 4 ? 32 : 128;
  const env: EnvList = [
    {
      name: "EGRESS_SOURCE",
      value: s.prefixLength === hostPrefix ? s.address : `${s.address}/${s.prefixLength}`,
    },
    { name: "EGRESS_GATEWAY", value: spec.gateway },
    { name: "EGRESS_INTERFACE", value: egressInterfaceName(spec) },
  ];
  if (spec.clusterInterface !== undefined)
    env.push({ name: "EGRESS_CLUSTER_INTERFACE", value: spec.clusterInterface });
  return env;
}

function passThrough(spec: RouterSpec, container: "init" | "main"): EnvList {
  return spec.env
    .filter((e) => e.in === "all" || container === "main")
    .map((e) => ({ name: e.name, value: e.value }));
}

function httpProbe(path: string, periodSeconds: number): IProbe {
  return {
    httpGet: { path, port: "admin", scheme: "HTTP" },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold: 3,
  };
}

const rulesVolume = "rules";
const runVolume = "run";

function initContainer(spec: RouterSpec): IContainer {
  const kind = spec.rules.kind;
  const env: EnvList = [
    { name: "EGRESS_ROUTER_MODE", value: setupMode[kind] },
    ...addressEnv(spec),
  ];
  if (kind === "redirect") env.push(rulesFileEnv(kind));
  env.push(...passThrough(spec, "init"));
  return {
    name: "network-setup",
    image: spec.image,
    imagePullPolicy: spec.imagePullPolicy,
    env,
    resources: resources(spec),
    securityContext: securityContext(
      networkSetupPrivileges(spec.source.family, spec.privilegedSetup),
    ),
    volumeMounts: [
      ...(kind === "redirect"
        ? [{ name: rulesVolume, mountPath: rulesMountPath, readOnly: true }]
        : []),
      { name: runVolume, mountPath: "/run" },
    ],
  };
}

function mainContainer(spec: RouterSpec): IContainer {
  const kind = spec.rules.kind;
  const env: EnvList = [];
  if (kind === "redirect") {
    // legacy: set up (skipped when the init container already did) and stay up, reloading NAT.
    env.push({ name: "EGRESS_ROUTER_MODE", value: "legacy" }, ...addressEnv(spec));
  }
  // The proxies are chosen by their rules setting (OpenShift mode), read from the mounted file.
  env.push(rulesFileEnv(kind), ...passThrough(spec, "main"));
  const { ports } = routerPorts(spec.rules);
  return {
    name: kind,
    image: spec.image,
    imagePullPolicy: spec.imagePullPolicy,
    env,
    ports: [
      ...ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: p.protocol })),
      { name: "admin", containerPort: spec.adminPort, protocol: "TCP" },
    ],
    readinessProbe: httpProbe("/readyz", 5),
    livenessProbe: httpProbe("/healthz", 10),
    resources: resources(spec),
    securityContext: securityContext(mainPrivileges(kind)),
    volumeMounts: [
      { name: rulesVolume, mountPath: rulesMountPath, readOnly: true },
      ...(kind === "redirect" ? [{ name: runVolume, mountPath: "/run" }] : []),
    ],
  };
}

/** The one container of an active/standby replica: `ha run` with the election settings. */
function activeStandbyContainer(spec: RouterSpec): IContainer {
  const env: EnvList = [...addressEnv(spec), rulesFileEnv("redirect")];
  // keepalived elects the holder unless the settings say otherwise (checked: never "none")
  if (!spec.env.some((e) => e.name === "EGRESS_HA_ELECTION"))
    env.push({ name: "EGRESS_HA_ELECTION", value: "keepalived" });
  env.push(...passThrough(spec, "main"));
  const { ports } = routerPorts(spec.rules);
  return {
    name: "redirect",
    image: spec.image,
    imagePullPolicy: spec.imagePullPolicy,
    args: ["ha", "run"],
    env,
    ports: [
      ...ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: p.protocol })),
      { name: "admin", containerPort: spec.adminPort, protocol: "TCP" },
    ],
    // Ready = holding the source address. Checked every second: the Service follows a
    // takeover within a probe period (plus the time its endpoints take to spread).
    readinessProbe: { ...httpProbe("/readyz", 1), timeoutSeconds: 1, failureThreshold: 1 },
    livenessProbe: httpProbe("/healthz", 10),
    resources: resources(spec),
    securityContext: securityContext(
      activeStandbyPrivileges(spec.source.family, spec.privilegedSetup),
    ),
    volumeMounts: [
      { name: rulesVolume, mountPath: rulesMountPath, readOnly: true },
      // keepalived's configuration, pid files and event FIFO (EGRESS_HA_RUN_DIR)
      { name: runVolume, mountPath: "/run" },
    ],
  };
}

/** The lowest port the main container listens on, when it runs unprivileged and needs one below 1024. */
function lowestPrivilegedPort(spec: RouterSpec): number | undefined {
  if (mainPrivileges(spec.rules.kind).runAsUser === 0) return undefined;
  const lowest = Math.min(spec.adminPort, ...routerPorts(spec.rules).ports.map((p) => p.port));
  return lowest < firstUnprivilegedPort ? lowest : undefined;
}

export function buildDeployment(spec: RouterSpec): IDeployment {
  const activeStandby = spec.replicas > 1;
  const lowPort = lowestPrivilegedPort(spec);
  const podSpec: IPodSpec = {
    serviceAccountName: spec.name,
    // The router never talks to the Kubernetes API, and service links would inject
    // EGRESS_ROUTER_* variables for a Service named egress-router.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: spec.drainSeconds + 5,
    securityContext: {
      seccompProfile: { type: "RuntimeDefault" },
      // A pod-local sysctl (safe in Kubernetes): lets the unprivileged proxy bind a low port
      // without any capability.
      ...(lowPort === undefined
        ? {}
        : { sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: String(lowPort) }] }),
    },
    ...(spec.imagePullSecrets.length > 0
      ? { imagePullSecrets: spec.imagePullSecrets.map((name) => ({ name })) }
      : {}),
    ...(Object.keys(spec.nodeSelector).length > 0
      ? { nodeSelector: { ...spec.nodeSelector } }
      : {}),
    ...(activeStandby
      ? {
          // one replica per node: a node failure must leave a standby to take over
          affinity: {
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                {
                  labelSelector: { matchLabels: selectorLabels(spec) },
                  topologyKey: "kubernetes.io/hostname",
                },
              ],
            },
          },
          containers: [activeStandbyContainer(spec)],
        }
      : { initContainers: [initContainer(spec)], containers: [mainContainer(spec)] }),
    volumes: [
      { name: rulesVolume, configMap: { name: configMapName(spec), defaultMode: 0o444 } },
      { name: runVolume, emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
    ],
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: objectMeta(spec),
    spec: {
      replicas: spec.replicas,
      // Recreate: the old pod is gone before the new one takes the source address. A rolling
      // update would run both at once, with the same address on two nodes. An active/standby
      // set cannot roll either: a new standby never turns ready (readiness is holding), so a
      // rolling update would wait for it forever.
      strategy: { type: "Recreate" },
      selector: { matchLabels: selectorLabels(spec) },
      template: {
        metadata: {
          labels: objectLabels(spec),
          annotations: {
            ...networkAnnotations(spec),
            "kubectl.kubernetes.io/default-container": spec.rules.kind,
          },
        },
        spec: podSpec,
      },
    },
  };
}

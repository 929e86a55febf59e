// Every object of one router, in the order `kubectl apply -f -` should create them.
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { buildConfigMap } from "./build-config-map.ts";
import { buildDeployment } from "./build-deployment.ts";
import type { NetworkAttachmentDefinition } from "./build-network-attachment.ts";
import { buildNetworkAttachmentDefinition } from "./build-network-attachment.ts";
import { buildNetworkPolicy } from "./build-network-policy.ts";
import { buildPodDisruptionBudget } from "./build-pod-disruption-budget.ts";
import { buildService } from "./build-service.ts";
import { buildServiceAccount } from "./build-service-account.ts";
import type { RouterSpec } from "./router-spec.ts";

export type ManifestObject =
  | IServiceAccount
  | NetworkAttachmentDefinition
  | IConfigMap
  | IDeployment
  | IService
  | INetworkPolicy
  | IPodDisruptionBudget;

export function buildManifests(spec: RouterSpec): ManifestObject[] {
  if (spec.replicas !== 1 && spec.rules.kind !== "redirect") {
    // Several proxies would announce one source address from several nodes; only redirect
    // mode has an election (readRouterSpec says so to the user first).
    throw new RangeError(
      `replicas: Cannot build ${spec.replicas} replicas of a ${spec.rules.kind} router: only redirect mode has an active/standby form; use 1`,
    );
  }
  const nad = buildNetworkAttachmentDefinition(spec);
  return [
    buildServiceAccount(spec),
    ...(nad === undefined ? [] : [nad]),
    buildConfigMap(spec),
    buildDeployment(spec),
    ...(spec.replicas > 1 ? [buildPodDisruptionBudget(spec)] : []),
    buildService(spec),
    buildNetworkPolicy(spec),
  ];
}

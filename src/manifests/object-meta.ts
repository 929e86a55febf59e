// Names and labels shared by every generated object.
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { RouterSpec } from "./router-spec.ts";

export type ObjectMeta = NonNullable<IConfigMap["metadata"]>;

export const nameLabel = "app.kubernetes.io/name";
export const instanceLabel = "app.kubernetes.io/instance";
export const componentLabel = "app.kubernetes.io/component";
export const managedByLabel = "app.kubernetes.io/managed-by";
/** labels the generator owns; `--label` may not set them */
export const reservedLabels: readonly string[] = [
  nameLabel,
  instanceLabel,
  componentLabel,
  managedByLabel,
];

/** The labels that select this router's pod (stable across upgrades: never add to them). */
export function selectorLabels(spec: RouterSpec): Record<string, string> {
  return { [nameLabel]: "egress-router", [instanceLabel]: spec.name };
}

export function objectLabels(spec: RouterSpec): Record<string, string> {
  return {
    ...selectorLabels(spec),
    [componentLabel]: spec.rules.kind,
    [managedByLabel]: "egress-router-manifests",
    ...spec.labels,
  };
}

export function objectMeta(spec: RouterSpec, name: string = spec.name): ObjectMeta {
  return { name, namespace: spec.namespace, labels: objectLabels(spec) };
}

export function configMapName(spec: RouterSpec): string {
  return `${spec.name}-rules`;
}

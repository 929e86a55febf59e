// An active/standby set's PodDisruptionBudget. Readiness means "holds the source address",
// so exactly one pod is ready: the budget keeps a voluntary eviction (a node drain) from
// taking the holder away while it is the only pod serving, and lets the standbys, which are
// never ready, be evicted at any time (AlwaysAllow). Draining the holder's node waits until
// the role moves: delete the holder pod (a graceful handover) and the drain goes on.
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { objectMeta, selectorLabels } from "./object-meta.ts";
import type { RouterSpec } from "./router-spec.ts";

export function buildPodDisruptionBudget(spec: RouterSpec): IPodDisruptionBudget {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: objectMeta(spec),
    spec: {
      minAvailable: 1,
      selector: { matchLabels: selectorLabels(spec) },
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    },
  };
}

// A ServiceAccount of the router's own, so that the privileges its init container needs
// (an OpenShift SecurityContextConstraints, a Pod Security exemption) are granted to it alone,
// never to the namespace's `default` account.
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { objectMeta } from "./object-meta.ts";
import type { RouterSpec } from "./router-spec.ts";

export function buildServiceAccount(spec: RouterSpec): IServiceAccount {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: objectMeta(spec),
    automountServiceAccountToken: false,
  };
}

// Only the chosen clients may reach the router (the OpenShift originals let any pod in the
// cluster borrow the reserved address), and only on the ports the rules use; the admin port
// only from the namespaces named for metrics.
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { INetworkPolicyPeer } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer";
import type { INetworkPolicyIngressRule } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyIngressRule";
import { objectMeta, selectorLabels } from "./object-meta.ts";
import { routerPorts } from "./router-ports.ts";
import type { ClientSelector, RouterSpec } from "./router-spec.ts";

/** Set by Kubernetes on every namespace (1.21+), so a namespace can be chosen by name. */
const namespaceNameLabel = "kubernetes.io/metadata.name";

function namespacePeer(namespace: string | undefined): INetworkPolicyPeer["namespaceSelector"] {
  return namespace === undefined ? {} : { matchLabels: { [namespaceNameLabel]: namespace } };
}

function peer(c: ClientSelector): INetworkPolicyPeer {
  const hasPods = Object.keys(c.podLabels).length > 0;
  return {
    namespaceSelector: namespacePeer(c.namespace),
    ...(hasPods ? { podSelector: { matchLabels: { ...c.podLabels } } } : {}),
  };
}

export function buildNetworkPolicy(spec: RouterSpec): INetworkPolicy {
  const { ports, everyPort } = routerPorts(spec.rules);
  const ingress: INetworkPolicyIngressRule[] = [
    {
      from: spec.clients.map(peer),
      // With a redirect fallback every port is forwarded, so no port list.
      ...(everyPort ? {} : { ports: ports.map((p) => ({ protocol: p.protocol, port: p.port })) }),
    },
  ];
  if (spec.metricsNamespaces.length > 0) {
    ingress.push({
      from: spec.metricsNamespaces.map((ns) => ({ namespaceSelector: namespacePeer(ns) })),
      ports: [{ protocol: "TCP", port: spec.adminPort }],
    });
  }
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: objectMeta(spec),
    spec: {
      podSelector: { matchLabels: selectorLabels(spec) },
      policyTypes: ["Ingress"],
      ingress,
    },
  };
}

// The Service clients send their traffic to: exactly the ports the rules use. A redirect
// fallback forwards every port, which a Service cannot list; then the Service is headless,
// so its DNS name resolves to the pod itself and every port reaches the router.
import type { IService } from "kubernetes-models/v1/Service";
import { objectMeta, selectorLabels } from "./object-meta.ts";
import { routerPorts } from "./router-ports.ts";
import type { RouterSpec } from "./router-spec.ts";

export function buildService(spec: RouterSpec): IService {
  const { ports, everyPort } = routerPorts(spec.rules);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: objectMeta(spec),
    spec: {
      type: "ClusterIP",
      ...(everyPort ? { clusterIP: "None" } : {}),
      selector: selectorLabels(spec),
      ...(ports.length > 0
        ? {
            ports: ports.map((p) => ({
              name: p.name,
              port: p.port,
              targetPort: p.name,
              protocol: p.protocol,
            })),
          }
        : {}),
    },
  };
}

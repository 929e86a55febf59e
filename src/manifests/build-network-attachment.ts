// The pod's egress interface. OpenShift SDN: one pod annotation, and the SDN creates
// `macvlan0`. Multus: a NetworkAttachmentDefinition (macvlan or ipvlan + static IPAM) and a pod
// annotation that attaches it under the interface name the router is told (EGRESS_INTERFACE).
import type { ObjectMeta } from "./object-meta.ts";
import { objectMeta } from "./object-meta.ts";
import type { InterfaceAddress, IpvlanMode, MacvlanMode, RouterSpec } from "./router-spec.ts";

/** `k8s.cni.cncf.io/v1` NetworkAttachmentDefinition (no maintained types package carries it). */
export interface NetworkAttachmentDefinition {
  readonly apiVersion: "k8s.cni.cncf.io/v1";
  readonly kind: "NetworkAttachmentDefinition";
  readonly metadata: ObjectMeta;
  readonly spec: { readonly config: string };
}

/**
 * The CNI configuration inside the NetworkAttachmentDefinition: the macvlan or the ipvlan
 * plugin, which take the same fields (master, mode, ipam).
 */
export interface EgressCniConfig {
  readonly cniVersion: "0.4.0";
  readonly name: string;
  readonly type: "macvlan" | "ipvlan";
  readonly master?: string;
  readonly mode: MacvlanMode | IpvlanMode;
  /** an active/standby set: none (the source address moves with the holder; `ha run` adds routes) */
  readonly ipam:
    | {
        readonly type: "static";
        readonly addresses: readonly { readonly address: string; readonly gateway?: string }[];
      }
    | Record<string, never>;
}

export const sdnAnnotation = "pod.network.openshift.io/assign-macvlan";
export const multusAnnotation = "k8s.v1.cni.cncf.io/networks";

/** Every address the egress interface carries: the source first, then the extra ones. */
export function interfaceAddresses(spec: RouterSpec): InterfaceAddress[] {
  const first: InterfaceAddress = { ...spec.source, gateway: spec.gateway };
  return spec.network.kind === "multus" ? [first, ...spec.network.extraAddresses] : [first];
}

export function egressCniConfig(spec: RouterSpec): EgressCniConfig | undefined {
  const net = spec.network;
  if (net.kind !== "multus") return undefined;
  return {
    cniVersion: "0.4.0",
    name: spec.name,
    type: net.link.type,
    ...(net.master === undefined ? {} : { master: net.master }),
    mode: net.link.mode,
    // Several replicas: no address from IPAM, every pod would get it; the holder has it.
    ipam:
      spec.replicas > 1
        ? {}
        : {
            type: "static",
            addresses: interfaceAddresses(spec).map((a) => ({
              address: `${a.address}/${a.prefixLength}`,
              ...(a.gateway === undefined ? {} : { gateway: a.gateway }),
            })),
          },
  };
}

export function buildNetworkAttachmentDefinition(
  spec: RouterSpec,
): NetworkAttachmentDefinition | undefined {
  const config = egressCniConfig(spec);
  if (config === undefined) return undefined;
  return {
    apiVersion: "k8s.cni.cncf.io/v1",
    kind: "NetworkAttachmentDefinition",
    metadata: objectMeta(spec),
    spec: { config: `${JSON.stringify(config, null, 2)}\n` },
  };
}

/** The pod annotation that gives the pod its egress interface. */
export function networkAnnotations(spec: RouterSpec): Record<string, string> {
  const net = spec.network;
  switch (net.kind) {
    case "openshift-sdn":
      return { [sdnAnnotation]: net.parent ?? "true" };
    case "multus":
      return {
        [multusAnnotation]: JSON.stringify([
          { name: spec.name, namespace: spec.namespace, interface: net.interfaceName },
        ]),
      };
  }
}

/** The interface name the router must use (EGRESS_INTERFACE). */
export function egressInterfaceName(spec: RouterSpec): string {
  return spec.network.kind === "multus" ? spec.network.interfaceName : "macvlan0";
}

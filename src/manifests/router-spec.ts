// Everything the manifest builders need, as typed values. The CLI (flags, variables, files) and
// the EgressRouter converter both produce a RouterSpec; the builders are pure functions of it.
import type {
  DnsProxyRule,
  Family,
  HttpRule,
  RedirectRule,
  SourceAddress,
} from "../config/types.ts";

export type RouterKind = "redirect" | "http-proxy" | "dns-proxy";
export type MacvlanMode = "bridge" | "private" | "vepa" | "passthru";
export const macvlanModes: readonly MacvlanMode[] = ["bridge", "private", "vepa", "passthru"];
/** ipvlan: l2 shares the parent's MAC and answers ARP/NDP itself; l3/l3s need the LAN to route to the node (docs/networks.md). */
export type IpvlanMode = "l2" | "l3" | "l3s";
export const ipvlanModes: readonly IpvlanMode[] = ["l2", "l3", "l3s"];
/** The kind of interface Multus creates for the router. */
export type InterfaceType = "macvlan" | "ipvlan";
export const interfaceTypes: readonly InterfaceType[] = ["macvlan", "ipvlan"];
/** The Multus interface with its mode. */
export type EgressLink =
  | { readonly type: "macvlan"; readonly mode: MacvlanMode }
  | { readonly type: "ipvlan"; readonly mode: IpvlanMode };

/** An address the egress interface carries, with its next hop (static IPAM). */
export interface InterfaceAddress {
  readonly address: string;
  readonly prefixLength: number;
  readonly family: Family;
  readonly gateway: string | undefined;
}

/**
 * How the pod gets its egress interface.
 * - `openshift-sdn`: the SDN creates `macvlan0` when the pod carries the
 *   `pod.network.openshift.io/assign-macvlan` annotation (`"true"`, or the parent interface).
 * - `multus`: a NetworkAttachmentDefinition (macvlan or ipvlan, static IPAM) attached under
 *   `interfaceName`.
 */
export type NetworkAttachment =
  | { readonly kind: "openshift-sdn"; readonly parent: string | undefined }
  | {
      readonly kind: "multus";
      readonly master: string | undefined;
      readonly link: EgressLink;
      readonly interfaceName: string;
      /** addresses beyond the source address, configured on the interface as well */
      readonly extraAddresses: readonly InterfaceAddress[];
    };
export type NetworkKind = NetworkAttachment["kind"];
export const networkKinds: readonly NetworkKind[] = ["openshift-sdn", "multus"];

/** The rules of the router's mode: parsed (for ports) and as text (for the ConfigMap). */
export type RouterRules =
  | { readonly kind: "redirect"; readonly rules: readonly RedirectRule[]; readonly text: string }
  | {
      readonly kind: "http-proxy";
      readonly rules: readonly HttpRule[];
      readonly text: string;
      readonly port: number;
    }
  | { readonly kind: "dns-proxy"; readonly rules: readonly DnsProxyRule[]; readonly text: string };

/** Who may use the router: pods matching `podLabels` (empty: every pod) in `namespace` (undefined: every namespace). */
export interface ClientSelector {
  readonly namespace: string | undefined;
  readonly podLabels: Readonly<Record<string, string>>;
}

export interface Resources {
  readonly cpuRequest: string;
  readonly memoryRequest: string;
  readonly cpuLimit: string | undefined;
  readonly memoryLimit: string | undefined;
}

export interface EnvVar {
  readonly name: string;
  readonly value: string;
  /** `all`: the network-setup init container too; `main`: only the long-running container */
  readonly in: "all" | "main";
}

export interface RouterSpec {
  readonly name: string;
  readonly namespace: string;
  readonly image: string;
  readonly imagePullPolicy: "Always" | "IfNotPresent" | "Never";
  readonly imagePullSecrets: readonly string[];
  /** extra labels for every object and the pod template (never part of the selector) */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * 1: one router pod. 2 or more (redirect mode): an active/standby set — keepalived elects
   * the holder of the source address (`egress-router ha run`, docs/ha.md)
   */
  readonly replicas: number;
  readonly rules: RouterRules;
  readonly source: SourceAddress;
  readonly gateway: string;
  readonly network: NetworkAttachment;
  /** router settings passed through unchanged (debug, NAT backend, admin address…), in catalogue order */
  readonly env: readonly EnvVar[];
  readonly clusterInterface: string | undefined;
  readonly adminPort: number;
  readonly drainSeconds: number;
  readonly resources: Resources;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly clients: readonly ClientSelector[];
  /** namespaces whose pods may scrape the admin port (metrics) */
  readonly metricsNamespaces: readonly string[];
  /** run the network set-up privileged even for IPv4 (a node whose forwarding is off) */
  readonly privilegedSetup: boolean;
}

/** Where the ConfigMap is mounted in every container that reads rules. */
export const rulesMountPath = "/etc/egress-router";

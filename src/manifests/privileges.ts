// Who runs as whom, with which capabilities, and why. The Deployment builder and
// docs/kubernetes.md both follow this table; a test keeps the Containerfile's USER in step.
import type { RouterKind } from "./router-spec.ts";

/** The unprivileged user the image declares (`USER` in the Containerfile). */
export const imageUser = 10001;

export type Capability = "NET_ADMIN" | "NET_RAW";

export interface ContainerPrivileges {
  readonly runAsUser: number;
  readonly capabilities: readonly Capability[];
  readonly why: string;
}

/**
 * The init container configures the pod's own network namespace: the source address on the
 * egress interface, the routes, NAT in redirect mode (NET_ADMIN) and the gratuitous ARP
 * announcement (NET_RAW, a raw packet socket). Capabilities added in Kubernetes only reach
 * processes of uid 0 (there are no ambient capabilities), so it runs as root, but with every
 * other capability dropped; it never needs `privileged: true`.
 */
export const networkSetupPrivileges: ContainerPrivileges = {
  runAsUser: 0,
  capabilities: ["NET_ADMIN", "NET_RAW"],
  why: "configures the egress interface, routes and NAT (NET_ADMIN) and announces the address by gratuitous ARP (NET_RAW)",
};

/** The long-running container of each mode. */
export function mainPrivileges(kind: RouterKind): ContainerPrivileges {
  switch (kind) {
    case "redirect":
      // The data path is kernel NAT; this container re-applies the ruleset when the
      // ConfigMap changes, which needs NET_ADMIN (and therefore uid 0). No NET_RAW: the
      // address was announced by the init container.
      return {
        runAsUser: 0,
        capabilities: ["NET_ADMIN"],
        why: "re-applies the NAT ruleset when the rules change (NET_ADMIN)",
      };
    case "http-proxy":
    case "dns-proxy":
      return {
        runAsUser: imageUser,
        capabilities: [],
        why: "only opens ordinary sockets; the network was set up by the init container",
      };
  }
}

// Who runs as whom, with which capabilities, and why. The Deployment builder and
// docs/kubernetes.md both follow this table; a test keeps the Containerfile's USER in step.
import type { Family } from "../config/types.ts";
import type { RouterKind } from "./router-spec.ts";

/** The unprivileged user the image declares (`USER` in the Containerfile). */
export const imageUser = 10001;

export type Capability = "NET_ADMIN" | "NET_RAW";

export interface ContainerPrivileges {
  readonly runAsUser: number;
  readonly capabilities: readonly Capability[];
  /** only where a kernel setting under /proc/sys must be written (read-only otherwise) */
  readonly privileged: boolean;
  readonly why: string;
}

/**
 * The init container configures the pod's own network namespace: the source address on the
 * egress interface, the routes, NAT in redirect mode (NET_ADMIN) and the gratuitous ARP
 * announcement (NET_RAW, a raw packet socket). Capabilities added in Kubernetes only reach
 * processes of uid 0 (there are no ambient capabilities), so it runs as root, with every other
 * capability dropped.
 *
 * IPv4 needs nothing more: the one kernel setting redirect mode needs, net.ipv4.ip_forward,
 * is inherited from the node, where Kubernetes networking has it on already. IPv6 does not
 * inherit: net.ipv6.conf.all.forwarding and the interface's ndisc_notify (the IPv6 twin of
 * gratuitous ARP) must be written under /proc/sys, which container runtimes mount read-only
 * unless the container is privileged; neither is a "safe" sysctl a pod may set itself.
 */
export function networkSetupPrivileges(
  family: Family,
  forcePrivileged = false,
): ContainerPrivileges {
  return family === 4 && !forcePrivileged
    ? {
        runAsUser: 0,
        capabilities: ["NET_ADMIN", "NET_RAW"],
        privileged: false,
        why: "configures the egress interface, routes and NAT (NET_ADMIN) and announces the address by gratuitous ARP (NET_RAW)",
      }
    : {
        runAsUser: 0,
        capabilities: ["NET_ADMIN", "NET_RAW"],
        privileged: true,
        why: "as for IPv4, and writes net.ipv6.conf.all.forwarding and ndisc_notify under /proc/sys, which only a privileged container can",
      };
}

/**
 * A replica of an active/standby set (`egress-router ha run`, one container, no init
 * container): it does the network set-up itself (routes, NAT), runs keepalived, whose VRRP
 * advertisements and gratuitous ARP are raw packets (NET_RAW), and probes the gateway and the
 * source address with ARP. Kernel settings as for the network set-up: nothing to write for
 * IPv4, so privileged only for IPv6 (or when asked).
 */
export function activeStandbyPrivileges(
  family: Family,
  forcePrivileged = false,
): ContainerPrivileges {
  const p = networkSetupPrivileges(family, forcePrivileged);
  return {
    ...p,
    why: p.privileged
      ? "as for IPv4, and writes net.ipv6.conf.all.forwarding under /proc/sys, which only a privileged container can"
      : "moves the source address, loads NAT and routes (NET_ADMIN); VRRP advertisements, gratuitous ARP and ARP probes (NET_RAW)",
  };
}

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
        privileged: false,
        why: "re-applies the NAT ruleset when the rules change (NET_ADMIN)",
      };
    case "http-proxy":
    case "dns-proxy":
      return {
        runAsUser: imageUser,
        capabilities: [],
        privileged: false,
        why: "only opens ordinary sockets; the network was set up by the init container",
      };
  }
}

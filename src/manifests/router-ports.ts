// The ports a router's rules use: what the Service exposes, the container declares and the
// NetworkPolicy admits. One function so the three can never disagree.
import type { Protocol } from "../config/types.ts";
import type { RouterRules } from "./router-spec.ts";

export type KubernetesProtocol = "TCP" | "UDP" | "SCTP";

export interface RouterPort {
  /** IANA-style port name, unique within the pod, at most 15 characters */
  readonly name: string;
  readonly port: number;
  readonly protocol: KubernetesProtocol;
}

export interface RouterPorts {
  readonly ports: readonly RouterPort[];
  /** true when a redirect fallback sends every other port somewhere too */
  readonly everyPort: boolean;
}

const kubernetesProtocol: Record<Protocol, KubernetesProtocol> = {
  tcp: "TCP",
  udp: "UDP",
  sctp: "SCTP",
};

export function routerPorts(rules: RouterRules): RouterPorts {
  switch (rules.kind) {
    case "http-proxy":
      return {
        ports: [{ name: "http-proxy", port: rules.port, protocol: "TCP" }],
        everyPort: false,
      };
    case "dns-proxy":
      return {
        ports: rules.rules.map((r) => ({
          name: `tcp-${r.localPort}`,
          port: r.localPort,
          protocol: "TCP",
        })),
        everyPort: false,
      };
    case "redirect": {
      const ports: RouterPort[] = [];
      let everyPort = false;
      for (const r of rules.rules) {
        if (r.kind === "fallback") everyPort = true;
        else
          ports.push({
            name: `${r.protocol}-${r.localPort}`,
            port: r.localPort,
            protocol: kubernetesProtocol[r.protocol],
          });
      }
      return { ports, everyPort };
    }
  }
}

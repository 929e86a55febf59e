// The shape of a demo scenario. Each mode contributes groups of scenarios in its own file
// (demo-redirect.ts for redirect mode) and registers them in demo-scenarios.ts; the demo
// runner (demo.ts) runs them against a lab and prints one table row per scenario.
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Lab } from "./lab.ts";
import type { ProbeResult } from "./lab-probe.ts";

export type DemoMode = "redirect" | "http-proxy" | "dns-proxy" | "ha";
export const DEMO_MODES: readonly DemoMode[] = Object.freeze([
  "redirect",
  "http-proxy",
  "dns-proxy",
  "ha",
]);

/** What a scenario should end with. */
export type Expectation =
  /** the external server answered, seeing the reserved source; `at` is the address:port it answered on */
  | { readonly outcome: "reply"; readonly at: string }
  /** the router refused at once (TCP reset, ICMP unreachable, or a proxy's 403) */
  | { readonly outcome: "refused" }
  /** nothing comes back (e.g. a raw SCTP packet to a refused port) */
  | { readonly outcome: "timeout" };

export interface Scenario {
  /** what the client asked, as a person would say it: "tcp 192.0.2.2:80" */
  readonly asked: string;
  /** which rule or behaviour this shows: "line 2: 8080 tcp 203.0.113.26 80" */
  readonly rule: string;
  readonly expect: Expectation;
  /** why this scenario cannot run here (e.g. a kernel feature is missing), or undefined */
  skip?(): string | undefined;
  run(ctx: DemoContext): Promise<ProbeResult>;
  /** a line to print under the row once it ran (e.g. a measured takeover gap) */
  note?(): string | undefined;
}

export interface ScenarioGroup {
  readonly mode: DemoMode;
  readonly title: string;
  /** the settings the router runs with, shown above the rows */
  readonly settings: readonly string[];
  /** starts or configures the router; returns what to show (e.g. "set up in 3.1 s") */
  setup(ctx: DemoContext): Promise<string>;
  /** stops what setup started (long-running routers, proxies) */
  teardown?(ctx: DemoContext): Promise<void>;
  readonly scenarios: readonly Scenario[];
}

export interface RouterRunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface DemoContext {
  readonly lab: Lab;
  /** runs bin/egress-router in the router namespace with exactly `env` (no PATH, as the image) */
  runRouter(args: readonly string[], env: Record<string, string>): Promise<RouterRunResult>;
  /** starts a long-running bin/egress-router in the router namespace (ended by teardown or lab down) */
  spawnRouter(args: readonly string[], env: Record<string, string>): ChildProcess;
}

/** The program the demo runs: the same entry point people and the image use. */
export const ROUTER_BIN = fileURLToPath(new URL("../../bin/egress-router", import.meta.url));

/**
 * The interface names the router must be told, as a deployment tells it (EGRESS_INTERFACE):
 * only those that differ from the defaults (macvlan0, eth0), so the settings shown stay those
 * of an OpenShift SDN pod wherever the lab looks like one.
 */
export function labInterfaceEnv(lab: Lab): Record<string, string> {
  const t = lab.topology;
  return {
    ...(t.egressInterface === "macvlan0" ? {} : { EGRESS_INTERFACE: t.egressInterface }),
    ...(t.clusterInterface === "eth0" ? {} : { EGRESS_CLUSTER_INTERFACE: t.clusterInterface }),
  };
}

export function demoContext(lab: Lab): DemoContext {
  const envArgs = (env: Record<string, string>) => [
    "env",
    "-i",
    ...Object.entries({ ...labInterfaceEnv(lab), ...env }).map(([k, v]) => `${k}=${v}`),
  ];
  return {
    lab,
    async runRouter(args, env) {
      const r = await lab.exec("router", [...envArgs(env), ROUTER_BIN, ...args], {
        okCodes: [0, 1, 2],
        timeoutMs: 60_000,
      });
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    },
    spawnRouter: (args, env) => lab.spawn("router", [...envArgs(env), ROUTER_BIN, ...args]),
  };
}

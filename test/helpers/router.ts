// Runs bin/egress-router inside a lab namespace with an environment as bare as the OpenShift
// image's (no PATH, no HOME), so the program must find ip, nft and arping by itself.
import type { ChildProcess } from "node:child_process";
import { labInterfaceEnv } from "../../src/lab/demo-scenario.ts";
import type { Lab } from "../../src/lab/lab.ts";
import type { LabRole } from "../../src/lab/topology.ts";
import { binPath } from "./run-cli.ts";

export interface RouterRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment as given, after the lab's interface names (as a deployment sets them). */
function envArgs(lab: Lab, env: Record<string, string>): string[] {
  const all = { ...labInterfaceEnv(lab), ...env };
  return ["env", "-i", ...Object.entries(all).map(([k, v]) => `${k}=${v}`)];
}

/** Runs the router to completion inside the router namespace. */
export async function runRouter(
  lab: Lab,
  args: readonly string[],
  env: Record<string, string> = {},
  role: LabRole = "router",
): Promise<RouterRun> {
  const r = await lab.exec(role, [...envArgs(lab, env), binPath, ...args], {
    okCodes: [0, 1, 2],
    timeoutMs: 120_000,
  });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** Starts a long-running router (legacy, --stay) inside the router namespace. */
export function spawnRouter(
  lab: Lab,
  args: readonly string[],
  env: Record<string, string> = {},
): ChildProcess {
  return lab.spawn("router", [...envArgs(lab, env), binPath, ...args]);
}

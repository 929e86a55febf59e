// Runs bin/egress-router inside a lab namespace with an environment as bare as the OpenShift
// image's (no PATH, no HOME), so the program must find ip, nft and arping by itself.
import type { ChildProcess } from "node:child_process";
import type { Lab } from "../../src/lab/lab.ts";
import type { LabRole } from "../../src/lab/topology.ts";
import { binPath } from "./run-cli.ts";

export interface RouterRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function envArgs(env: Record<string, string>): string[] {
  return ["env", "-i", ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
}

/** Runs the router to completion inside the router namespace. */
export async function runRouter(
  lab: Lab,
  args: readonly string[],
  env: Record<string, string> = {},
  role: LabRole = "router",
): Promise<RouterRun> {
  const r = await lab.exec(role, [...envArgs(env), binPath, ...args], {
    okCodes: [0, 1, 2],
    timeoutMs: 30_000,
  });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** Starts a long-running router (legacy, --stay) inside the router namespace. */
export function spawnRouter(
  lab: Lab,
  args: readonly string[],
  env: Record<string, string> = {},
): ChildProcess {
  return lab.spawn("router", [...envArgs(env), binPath, ...args]);
}

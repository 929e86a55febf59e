// Network namespaces and the processes inside them, through `ip netns`.
import type { CommandRunner } from "../redirect/command-runner.ts";

/** Names of every named network namespace on the host (`ip netns list`). */
export async function listNamespaces(runner: CommandRunner): Promise<string[]> {
  const r = await runner.run(["ip", "netns", "list"]);
  // lines look like "name" or "name (id: 3)"
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(" ")[0] ?? "")
    .filter((n) => n !== "");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends every process inside a namespace, by PID: SIGTERM, then SIGKILL for those still
 * running after `graceMs`. The processes of a lab namespace are the lab's own (its servers,
 * and whatever a test started there).
 */
export async function killNamespaceProcesses(
  runner: CommandRunner,
  ns: string,
  graceMs = 3000,
): Promise<void> {
  const r = await runner.run(["ip", "netns", "pids", ns]);
  const pids = r.stdout
    .split("\n")
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 25));
  }
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone between the check and the kill
    }
  }
}

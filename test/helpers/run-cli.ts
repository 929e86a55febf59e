// Runs bin/egress-router as a user (or the OpenShift image) would: a real child process with
// exactly the environment given (no PATH, no HOME unless a test passes them).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { cpuTicks } from "./progress.ts";

export const binPath = fileURLToPath(new URL("../../bin/egress-router", import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI to its exit. With `timeoutMs`, it is killed after that long. Without, it may
 * take as long as it keeps making progress (CPU time or output; a start on a busy machine
 * can take many times the usual), and is killed after `stallMs` (default 30 s) without any,
 * or after 5 minutes in all.
 */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  options: { input?: string; timeoutMs?: number; stallMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binPath, [...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const started = Date.now();
    const capMs = options.timeoutMs ?? 300_000;
    const stallMs = options.timeoutMs === undefined ? (options.stallMs ?? 30_000) : Infinity;
    let progress = "";
    let changed = started;
    const watchdog = setInterval(() => {
      const now = Date.now();
      const p = `${cpuTicks(child.pid) ?? "gone"}/${stdout.length}/${stderr.length}`;
      if (p !== progress) {
        progress = p;
        changed = now;
      }
      if (now - started > capMs || now - changed > stallMs) child.kill("SIGKILL");
    }, 250);
    child.on("error", (err) => {
      clearInterval(watchdog);
      reject(err);
    });
    child.on("close", (code) => {
      clearInterval(watchdog);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

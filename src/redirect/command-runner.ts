// Runs the kernel tools (ip, nft, arping, iptables-restore) with argv arrays: never a shell,
// so no value from a ConfigMap can ever be interpreted as shell syntax. A failed call is a
// CommandError naming the command, its exit code and its stderr, with a hint where the
// failure is a common one. The OpenShift image runs with an empty environment (no PATH), so
// programs are also looked up in the usual sbin/bin directories.
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import type { Env } from "../config/read-setting.ts";

/** Where programs are looked up after PATH (or instead of it, when PATH is missing). */
export const FALLBACK_PATH: readonly string[] = Object.freeze([
  "/usr/sbin",
  "/sbin",
  "/usr/bin",
  "/bin",
  "/usr/local/sbin",
  "/usr/local/bin",
]);

export interface RunOptions {
  /** written to the command's stdin (e.g. a ruleset for `nft -f -`) */
  readonly input?: string;
  /** exit codes that count as success; default [0] */
  readonly okCodes?: readonly number[];
  /** the command is killed after this long; default 30 s */
  readonly timeoutMs?: number;
}

export interface CommandResult {
  readonly argv: readonly string[];
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandRunner {
  /** Runs argv; resolves with its output, or rejects with a CommandError. */
  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
}

/** A command that could not be run, or ended with a code outside `okCodes`. */
export class CommandError extends Error {
  readonly argv: readonly string[];
  /** exit code; undefined when the command did not run or was killed */
  readonly code: number | undefined;
  readonly stderr: string;
  constructor(argv: readonly string[], code: number | undefined, state: string, stderr = "") {
    const hint = hintFor(argv, stderr);
    super(`Cannot run "${formatArgv(argv)}": ${state}${hint ? `; ${hint}` : ""}`);
    this.name = "CommandError";
    this.argv = argv;
    this.code = code;
    this.stderr = stderr;
  }
}

/** argv as one readable line; arguments with spaces or quotes are quoted. */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
}

/** Common failures and what to do about them. */
function hintFor(argv: readonly string[], stderr: string): string | undefined {
  const text = stderr.toLowerCase();
  const program = (argv[0] ?? "").split("/").pop();
  if (text.includes("operation not permitted") || text.includes("permission denied"))
    return "run as root, or give the container NET_ADMIN (privileged: true in OpenShift)";
  if (text.includes("cannot find device") || text.includes("no such device")) {
    return "check that the interface exists in this network namespace (EGRESS_INTERFACE, --interface)";
  }
  if (program === "nft" && text.includes("no such file or directory")) {
    return "the kernel lacks nftables NAT support; try EGRESS_NAT_BACKEND=iptables";
  }
  return undefined;
}

/** Finds a program in PATH, then in FALLBACK_PATH; undefined when it is nowhere. */
export function findProgram(name: string, env: Env): string | undefined {
  if (name.includes("/")) return name;
  const dirs = [...(env["PATH"] ?? "").split(":").filter((d) => d !== ""), ...FALLBACK_PATH];
  for (const dir of dirs) {
    const candidate = `${dir}/${name}`;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  return undefined;
}

export interface CommandRunnerOptions {
  /** the environment the commands see, and whose PATH is searched */
  readonly env: Env;
  /** called with one line per command and per failure (EGRESS_ROUTER_DEBUG) */
  readonly trace?: (line: string) => void;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_OUTPUT = 4 * 1024 * 1024;

/** The real runner: spawns each program directly (shell: false). */
export function createCommandRunner(options: CommandRunnerOptions): CommandRunner {
  const { env, trace } = options;
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
  childEnv["LC_ALL"] = "C"; // stable, parseable messages from ip and nft

  return {
    run(argv, runOptions = {}) {
      const [name, ...args] = argv;
      if (name === undefined) return Promise.reject(new Error("empty command"));
      const file = findProgram(name, env);
      if (file === undefined) {
        const err = new CommandError(
          argv,
          undefined,
          `"${name}" not found in PATH or in ${FALLBACK_PATH.join(", ")}`,
        );
        trace?.(`! ${err.message}`);
        return Promise.reject(err);
      }
      trace?.(`+ ${formatArgv(argv)}${runOptions.input !== undefined ? " <<EOF" : ""}`);
      if (runOptions.input !== undefined && trace) {
        for (const line of runOptions.input.replace(/\n$/, "").split("\n")) trace(`  ${line}`);
        trace("  EOF");
      }
      return new Promise<CommandResult>((resolve, reject) => {
        const child = spawn(file, args, {
          env: childEnv,
          shell: false,
          stdio: ["pipe", "pipe", "pipe"],
        });
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let size = 0;
        const collect = (into: Buffer[]) => (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_OUTPUT) into.push(chunk);
        };
        child.stdout.on("data", collect(out));
        child.stderr.on("data", collect(errOut));
        const timeoutMs = runOptions.timeoutMs ?? DEFAULT_TIMEOUT_MS;
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, timeoutMs);
        child.on("error", (err: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          const e = new CommandError(argv, undefined, err.code ?? err.message);
          trace?.(`! ${e.message}`);
          reject(e);
        });
        child.on("close", (code, signal) => {
          clearTimeout(timer);
          const stdout = Buffer.concat(out).toString("utf8");
          const stderr = Buffer.concat(errOut).toString("utf8");
          const okCodes = runOptions.okCodes ?? [0];
          if (code !== null && okCodes.includes(code)) {
            if (code !== 0) trace?.(`  exit code ${code}`);
            resolve({ argv, code, stdout, stderr });
            return;
          }
          const state = timedOut
            ? `no answer after ${timeoutMs} ms (killed)`
            : code === null
              ? `killed by ${signal ?? "a signal"}`
              : `exit code ${code}${stderr.trim() ? `, stderr "${oneLine(stderr)}"` : ""}`;
          const e = new CommandError(argv, code ?? undefined, state, stderr);
          trace?.(`! ${e.message}`);
          reject(e);
        });
        // A command that exits without reading stdin makes the write fail with EPIPE;
        // its exit code tells the story, so the write error is not reported on its own.
        child.stdin.on("error", () => {});
        child.stdin.end(runOptions.input ?? "");
      });
    },
  };
}

/** stderr on one line, cut to a readable length (the whole text stays in CommandError.stderr). */
function oneLine(text: string): string {
  const line = text.trim().split("\n").join(" | ");
  return line.length > 600 ? `${line.slice(0, 600)}…` : line;
}

/** A runner that runs every command inside a named network namespace (`ip netns exec`). */
export function namespaceRunner(runner: CommandRunner, namespace: string): CommandRunner {
  return {
    run: (argv, options) => runner.run(["ip", "netns", "exec", namespace, ...argv], options),
  };
}

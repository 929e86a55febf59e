// Runs the echo daemon as a real child process with the pinned Node.js, collects its JSON
// log lines, and kills it by PID if a test leaves it running.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import type { LogLine } from "./daemon.ts";
import { waitFor } from "./net.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const node = `${root}node_modules/node/bin/node`;
const fixture = `${root}test/fixtures/echo-daemon.ts`;

export interface ChildDaemon {
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  stderr(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitLog(msg: string, match?: (l: LogLine) => boolean, ms?: number): Promise<LogLine>;
}

export function startChildDaemon(t: TestContext, env: Record<string, string>): ChildDaemon {
  const child = spawn(node, ["--disable-warning=ExperimentalWarning", fixture], {
    env: { ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: LogLine[] = [];
  let err = "";
  let partial = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    partial += chunk;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const l of lines) if (l) logs.push(JSON.parse(l) as LogLine);
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  return {
    child,
    logs,
    exited,
    stderr: () => err,
    waitLog: (msg, match = () => true, ms = 10_000) =>
      waitFor(
        `log line "${msg}" (stderr: ${err})`,
        () => {
          if (child.exitCode !== null && !logs.some((l) => l.msg === msg && match(l)))
            throw new Error(`child exited with ${child.exitCode} before "${msg}"; stderr: ${err}`);
          return logs.find((l) => l.msg === msg && match(l));
        },
        ms,
      ),
  };
}

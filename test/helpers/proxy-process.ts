// bin/egress-router running the HTTP proxy as a real child process (the way the image runs
// it), with its JSON log lines collected; killed by PID if a test leaves it running.
import { spawn, type ChildProcess } from "node:child_process";
import type { TestContext } from "node:test";
import { binPath } from "./run-cli.ts";
import { freePort, waitFor } from "./net.ts";

export type LogLine = Record<string, unknown> & { msg: string };

export interface ProxyProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly adminPort: number;
  readonly logs: LogLine[];
  stderr(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** resolves once /readyz says ready */
  ready(): Promise<void>;
}

/** Starts `egress-router [args]` with exactly `env` plus free proxy and admin ports. */
export async function startProxyProcess(
  t: TestContext,
  env: Record<string, string>,
  args: string[] = [],
): Promise<ProxyProcess> {
  const port = await freePort();
  const adminPort = await freePort();
  const child = spawn(binPath, args, {
    env: {
      EGRESS_HTTP_PROXY_PORT: String(port),
      EGRESS_ADMIN_PORT: String(adminPort),
      EGRESS_ADMIN_ADDRESS: "127.0.0.1",
      EGRESS_LOG_FORMAT: "json",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: LogLine[] = [];
  let err = "";
  let partial = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    partial += chunk;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const l of lines) if (l.startsWith("{")) logs.push(JSON.parse(l) as LogLine);
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
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
    port,
    adminPort,
    logs,
    exited,
    stderr: () => err,
    ready: () =>
      waitFor(
        `ready (stderr: ${err})`,
        async () => {
          if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${err}`);
          const r = await fetch(`http://127.0.0.1:${adminPort}/readyz`).catch(() => undefined);
          return r?.status === 200 ? true : undefined;
        },
        30_000,
      ).then(() => undefined),
  };
}

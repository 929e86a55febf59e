// Starts the real daemon host in this process with the echo mode, a ConfigMap-style rules
// directory and a captured log, and removes all of it when the test ends.
import type { TestContext } from "node:test";
import type { Daemon } from "../../src/cli/daemon.ts";
import { startDaemon } from "../../src/cli/daemon.ts";
import type { SettingSpec } from "../../src/config/catalogue.ts";
import { createConfigMapDir } from "./configmap.ts";
import type { ConfigMapDir } from "./configmap.ts";
import { echoMode, echoSetting } from "./echo-mode.ts";
import { freePort, waitFor } from "./net.ts";

export type LogLine = Record<string, unknown> & { msg: string; level: string };

export interface EchoDaemon {
  readonly daemon: Daemon;
  readonly configMap: ConfigMapDir;
  readonly admin: string;
  readonly logs: LogLine[];
  /** the echo listener's port */
  readonly port: number;
  /** waits for the next log line with this msg after `from` lines */
  waitLog(msg: string, from?: number, match?: (l: LogLine) => boolean): Promise<LogLine>;
  get(path: string): Promise<{ status: number; body: string; headers: Headers }>;
}

export interface EchoDaemonOptions {
  readonly env?: Record<string, string>;
  /** "config-dir": the ConfigMap is EGRESS_CONFIG_DIR with a key per setting */
  readonly layout?: "rules-file" | "config-dir";
  /** more ConfigMap keys (config-dir layout) */
  readonly keys?: Record<string, string>;
  readonly fixedSettings?: readonly SettingSpec[];
}

export async function startEchoDaemon(
  t: TestContext,
  rules: string,
  options: EchoDaemonOptions = {},
): Promise<EchoDaemon> {
  const layout = options.layout ?? "rules-file";
  const configMap = await createConfigMapDir(
    layout === "rules-file" ? { rules } : { [echoSetting]: rules, ...options.keys },
  );
  const logs: LogLine[] = [];
  const adminPort = String(await freePort());
  const daemon = await startDaemon(echoMode, {
    env: {
      ...(layout === "rules-file"
        ? { [`${echoSetting}_FILE`]: configMap.path("rules") }
        : { EGRESS_CONFIG_DIR: configMap.dir }),
      EGRESS_ADMIN_ADDRESS: "127.0.0.1",
      EGRESS_ADMIN_PORT: adminPort,
      EGRESS_DRAIN_SECONDS: "0.5",
      ...options.env,
    },
    fixedSettings: options.fixedSettings ?? [],
    logDestination: {
      write(line: string) {
        for (const l of line.split("\n")) if (l) logs.push(JSON.parse(l) as LogLine);
      },
    },
    debounceMs: 100,
    pollMs: 0,
  }).catch(async (err: unknown) => {
    await configMap.remove();
    throw err;
  });
  t.after(async () => {
    await daemon.shutdown("SIGTERM");
    await configMap.remove();
  });
  const admin = daemon.adminUrl;
  if (!admin) throw new Error("admin server is off");
  const get = async (path: string) => {
    const r = await fetch(admin + path);
    return { status: r.status, body: await r.text(), headers: r.headers };
  };
  const status = JSON.parse((await get("/status.json")).body) as {
    service: { listeners: { port: number }[] };
  };
  const port = status.service.listeners[0]?.port ?? 0;
  return {
    daemon,
    configMap,
    admin,
    logs,
    get,
    port,
    waitLog: (msg, from = 0, match = () => true) =>
      waitFor(`log line "${msg}"`, () => logs.slice(from).find((l) => l.msg === msg && match(l))),
  };
}

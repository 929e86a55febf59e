// The HA lab: the ordinary lab (client, node, gateway, external server, DNS) with two router
// pods on the same egress LAN and the same cluster bridge. Router "a" is the lab's own
// router namespace; router "b" is a second namespace wired the same way. A cluster-side
// address (192.0.2.4) moves with the holder, as a Service would follow the ready pod.
//
//   client ─┐                 ┌─ router a ─┐
//           ├─ cbr0 [node] ───┤            ├─ lan0 [gateway] ── external
//           │                 └─ router b ─┘
//   clients use 192.0.2.4:7000 (moves with the holder) → 203.0.113.25:7000 from 198.51.100.99
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { mkdirSync, openSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Lab, LabOptions } from "./lab.ts";
import { createLab } from "./lab.ts";
import type { CommandResult, CommandRunner, RunOptions } from "../redirect/command-runner.ts";
import { createCommandRunner, findProgram } from "../redirect/command-runner.ts";
import { killNamespaceProcesses, listNamespaces } from "./namespaces.ts";

export type RouterName = "a" | "b";
export const ROUTERS: readonly RouterName[] = Object.freeze(["a", "b"]);

/** The cluster-side address clients use; it moves with the holder. */
export const CLUSTER_VIP = "192.0.2.4";
export const ROUTER_B_CLUSTER = "192.0.2.3";
export const HA_VRID = 42;
/** The port clients connect to (DNAT to the external server's port 7000). */
export const HA_PORT = 7000;

export interface HaLab {
  readonly lab: Lab;
  readonly namespaces: Readonly<Record<RouterName, string>>;
  /** the gateway-side port of each router's egress cable (set it down: the link is gone) */
  readonly gatewayPorts: Readonly<Record<RouterName, string>>;
  exec(router: RouterName, argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** Starts `egress-router ha run` in a router pod; its log goes to `logFile(router)`. */
  startRouter(router: RouterName, extraEnv?: Record<string, string>): ChildProcess;
  logFile(router: RouterName): string;
  /** SIGKILL every process in the router pod (the router and its keepalived). */
  killRouter(router: RouterName, signal?: NodeJS.Signals): Promise<number[]>;
  down(): Promise<void>;
}

function pidsIn(runner: CommandRunner, ns: string): Promise<number[]> {
  return runner.run(["ip", "netns", "pids", ns]).then((r) =>
    r.stdout
      .split("\n")
      .map((l) => Number(l.trim()))
      .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid),
  );
}

/** Builds the HA lab. On failure, removes what was built and throws. */
export async function createHaLab(options: LabOptions = {}): Promise<HaLab> {
  const lab = await createLab({ ...options, egressLink: "veth" });
  const runner = createCommandRunner({ env: process.env });
  const nsB = `erha-${lab.name}-router-b`;
  const namespaces = { a: lab.namespaces.router, b: nsB };
  const gatewayPorts = { a: "v-router", b: "v-router-b" };
  const children = new Set<ChildProcess>();
  const down = async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    if ((await listNamespaces(runner)).includes(nsB)) {
      await killNamespaceProcesses(runner, nsB, 1000);
      await runner.run(["ip", "netns", "delete", nsB]);
    }
    rmSync(`/etc/netns/${nsB}`, { recursive: true, force: true });
    await lab.down();
  };
  try {
    const ip = (...a: string[]) => runner.run(["ip", ...a]);
    await ip("netns", "add", nsB);
    await ip("-n", nsB, "link", "set", "lo", "up");
    await ip("link", "add", "eth0", "netns", nsB, "type", "veth", "peer", "name", "v-routerb");
    await ip("link", "set", "v-routerb", "netns", lab.namespaces.node);
    await ip("-n", lab.namespaces.node, "link", "set", "v-routerb", "master", "cbr0", "up");
    await ip("-n", nsB, "address", "add", `${ROUTER_B_CLUSTER}/24`, "dev", "eth0");
    await ip("-n", nsB, "link", "set", "eth0", "up");
    await ip("-n", nsB, "route", "add", "default", "via", lab.v4.clusterGateway);
    await ip("link", "add", "macvlan0", "netns", nsB, "type", "veth", "peer", "name", "v-router-b");
    await ip("link", "set", "v-router-b", "netns", lab.namespaces.gateway);
    await ip("-n", lab.namespaces.gateway, "link", "set", "v-router-b", "master", "lan0", "up");
    for (const ns of [lab.namespaces.router, nsB]) {
      await runner.run([
        "ip",
        "netns",
        "exec",
        ns,
        "sysctl",
        "-q",
        "-w",
        "net.ipv4.conf.all.rp_filter=1",
      ]);
    }
    // a clean LAN: the bridge floods the VRRP multicast group (no querier in a lab)
    await ip(
      "-n",
      lab.namespaces.gateway,
      "link",
      "set",
      "lan0",
      "type",
      "bridge",
      "mcast_snooping",
      "0",
    );
  } catch (err) {
    await down().catch(() => {});
    throw err;
  }
  const dir = `${lab.dir}/ha`;
  mkdirSync(dir, { recursive: true });
  const main = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
  return {
    lab,
    namespaces,
    gatewayPorts,
    exec: (router, argv, o) => runner.run(["ip", "netns", "exec", namespaces[router], ...argv], o),
    logFile: (router) => `${dir}/router-${router}.log`,
    startRouter(router, extraEnv = {}) {
      const log = openSync(`${dir}/router-${router}.log`, "a", 0o644);
      const ipPath = findProgram("ip", process.env) ?? "ip";
      const child = spawn(
        ipPath,
        [
          "netns",
          "exec",
          namespaces[router],
          process.execPath,
          "--disable-warning=ExperimentalWarning",
          main,
          "ha",
          "run",
        ],
        {
          stdio: ["ignore", log, log],
          shell: false,
          env: {
            PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
            HOSTNAME: `router-${router}`,
            EGRESS_SOURCE: lab.v4.source,
            EGRESS_GATEWAY: lab.v4.gateway,
            EGRESS_DESTINATION: `${HA_PORT} tcp ${lab.v4.external[0] ?? ""}\n`,
            EGRESS_HA_ELECTION: "keepalived",
            EGRESS_HA_VRID: String(HA_VRID),
            EGRESS_HA_PRIORITY: router === "a" ? "150" : "100",
            EGRESS_HA_CLUSTER_ADDRESS: `${CLUSTER_VIP}/24`,
            EGRESS_HA_RUN_DIR: `${dir}/run-${router}`,
            EGRESS_ADMIN_ADDRESS: "127.0.0.1",
            EGRESS_LOG_FORMAT: "json",
            EGRESS_LOG_LEVEL: "debug", // keepalived's own lines: the lab is for diagnosis
            EGRESS_DRAIN_SECONDS: "1",
            ...extraEnv,
          },
        },
      );
      children.add(child);
      child.once("exit", () => children.delete(child));
      return child;
    },
    async killRouter(router, signal = "SIGKILL") {
      const pids = await pidsIn(runner, namespaces[router]);
      for (const pid of pids) {
        try {
          process.kill(pid, signal);
        } catch {
          // already gone
        }
      }
      return pids;
    },
    down,
  };
}

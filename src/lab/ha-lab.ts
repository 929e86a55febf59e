// The HA lab: the ordinary lab (client, node, gateway, external server, DNS) with a second
// router pod on the same egress LAN and the same cluster bridge (`lab up --ha`). Router "a" is
// the lab's own router namespace; router "b" is erlab-<name>-routerb, wired the same way. Both
// run `egress-router ha run`; keepalived elects the holder. A cluster-side address (192.0.2.4)
// moves with the holder, as a Service would follow the ready pod, so a client keeps using one
// address.
//
//   client ─┐                 ┌─ router a ─┐
//           ├─ cbr0 [node] ───┤            ├─ LAN [gateway] ── external
//           │                 └─ router b ─┘
//   clients use 192.0.2.4:7000 (moves with the holder) → 203.0.113.25:7000 from 198.51.100.99
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Lab, LabOptions } from "./lab.ts";
import { createLab } from "./lab.ts";
import type { CommandResult, RunOptions } from "../redirect/command-runner.ts";
import { createCommandRunner, findProgram } from "../redirect/command-runner.ts";
import { secondRouterSteps } from "./build.ts";
import { LabError } from "./lab-error.ts";
import type { Attempt } from "./lab-traffic.ts";
import { killNamespaceProcesses, listNamespaces } from "./namespaces.ts";
import { namespaceName } from "./topology.ts";

export type RouterName = "a" | "b";
export const ROUTERS: readonly RouterName[] = Object.freeze(["a", "b"]);

/** The cluster-side address clients use; it moves with the holder. */
export const CLUSTER_VIP = "192.0.2.4";
export const HA_VRID = 42;
/** The port clients connect to (DNAT to the external server's port 7000). */
export const HA_PORT = 7000;
/** Where the routers' admin servers listen, inside their namespaces. */
const ADMIN = "http://127.0.0.1:9090";

/** What a router pod says about itself, and what its kernel shows. */
export interface RouterState {
  readonly router: RouterName;
  /** its process answers on the admin port */
  readonly running: boolean;
  /** its own word (status page): starting, standby, holder, fault, stopped */
  readonly role: string | undefined;
  readonly reason: string | undefined;
  readonly ready: boolean;
  /** the reserved source address is on its egress interface */
  readonly source: boolean;
  /** the cluster-side address is on its cluster interface */
  readonly vip: boolean;
  /** the split-brain guard's state: clear, seen, keeping, standing-down */
  readonly splitBrain: string | undefined;
}

/** Steady traffic from the client pod to the cluster-side address (lab-traffic.ts). */
export interface Traffic {
  /** every attempt that has ended so far */
  readonly attempts: readonly Attempt[];
  /** ends the traffic; resolves with every attempt once those under way ended */
  stop(): Promise<readonly Attempt[]>;
}

export interface HaLab {
  readonly lab: Lab;
  readonly namespaces: Readonly<Record<RouterName, string>>;
  exec(router: RouterName, argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /**
   * Starts `egress-router ha run` in a router pod; its log goes to `logFile(router)`.
   * `detached`: it outlives this process (`lab up --ha`).
   */
  startRouter(
    router: RouterName,
    extraEnv?: Record<string, string>,
    options?: { detached?: boolean },
  ): ChildProcess;
  logFile(router: RouterName): string;
  /**
   * Kills a router pod's processes. SIGKILL: every process in the pod (the router and its
   * keepalived), as when the pod crashes. SIGTERM: the router's own process only, as a
   * container runtime stops a pod (keepalived is the router's child and is stopped by it).
   */
  killRouter(router: RouterName, signal: "SIGKILL" | "SIGTERM"): Promise<number[]>;
  state(router: RouterName): Promise<RouterState>;
  /** The one router that holds the address and is ready, if exactly one does. */
  holder(): Promise<RouterName | undefined>;
  /** Cuts (false) or restores (true) a router's egress link. */
  setEgressLink(router: RouterName, up: boolean): Promise<void>;
  /** Drops VRRP (IP protocol 112) between the routers, while the rest of the LAN works. */
  partition(on: boolean): Promise<void>;
  /**
   * Starts a new connection every `everyMs` from the client pod to the cluster-side address.
   * The routers' connection tracking is emptied first, so that `carried` knows this
   * traffic's connections only (a source port may come again).
   */
  traffic(options?: { everyMs?: number; timeoutMs?: number }): Promise<Traffic>;
  /** Did this connection go through that router (its connection tracking knows it)? */
  carried(router: RouterName, attempt: Attempt): Promise<boolean>;
  /** Stops the routers and removes the second router pod; the lab itself stays. */
  removeSecondRouter(): Promise<void>;
  /** Removes everything: the routers, the second pod and the lab. */
  down(): Promise<void>;
}

const PARTITION_TABLE = "erlab_partition";

/** The environment `ha run` gets in the lab (every setting, as a deployment would set them). */
export function routerEnv(lab: Lab, router: RouterName, dir: string): Record<string, string> {
  const t = lab.topology;
  return {
    HOSTNAME: `router-${router}`,
    EGRESS_SOURCE: lab.v4.source,
    EGRESS_GATEWAY: lab.v4.gateway,
    EGRESS_DESTINATION: `${HA_PORT} tcp ${lab.v4.external[0] ?? ""}\n`,
    ...(t.egressInterface === "macvlan0" ? {} : { EGRESS_INTERFACE: t.egressInterface }),
    ...(t.clusterInterface === "eth0" ? {} : { EGRESS_CLUSTER_INTERFACE: t.clusterInterface }),
    EGRESS_HA_ELECTION: "keepalived",
    EGRESS_HA_VRID: String(HA_VRID),
    EGRESS_HA_PRIORITY: router === "a" ? "150" : "100",
    EGRESS_HA_CLUSTER_ADDRESS: `${CLUSTER_VIP}/${lab.v4.clusterPrefix}`,
    EGRESS_HA_RUN_DIR: `${dir}/run-${router}`,
    EGRESS_ADMIN_ADDRESS: "127.0.0.1",
    EGRESS_LOG_FORMAT: "json",
    EGRESS_LOG_LEVEL: "debug", // keepalived's own lines: the lab is for diagnosis
    EGRESS_DRAIN_SECONDS: "1",
  };
}

function refuseIpvlan(link: string | undefined): void {
  if (link === "ipvlan") {
    throw new LabError(
      `lab: Cannot build a second router on an ipvlan egress interface: two ipvlan interfaces share the node's MAC address, so their IPv6 link-local addresses (which VRRP speaks from) collide; use --interface macvlan or veth`,
    );
  }
}

/** Adds the second router pod to a built lab. Throws a LabError for ipvlan. */
export async function addSecondRouter(lab: Lab): Promise<void> {
  refuseIpvlan(lab.topology.egressLink);
  const runner = createCommandRunner({ env: process.env });
  for (const step of secondRouterSteps(lab.topology)) {
    await runner.run(step.argv, step.input !== undefined ? { input: step.input } : {});
  }
  mkdirSync(`${lab.dir}/ha`, { recursive: true });
}

/** Builds a lab with two router pods (routers not started). On failure, removes it all. */
export async function createHaLab(options: LabOptions = {}): Promise<HaLab> {
  refuseIpvlan(options.egressLink);
  const lab = await createLab(options);
  try {
    await addSecondRouter(lab);
  } catch (err) {
    await lab.down().catch(() => {});
    throw err;
  }
  return openHaLab(lab);
}

/** The HA view of a lab that has its second router pod. */
export function openHaLab(lab: Lab): HaLab {
  const runner = createCommandRunner({ env: process.env });
  const nsB = namespaceName(lab.name, "routerb");
  const namespaces: Record<RouterName, string> = { a: lab.namespaces.router, b: nsB };
  const dir = `${lab.dir}/ha`;
  const children = new Set<ChildProcess>();
  const t = lab.topology;
  const exec = (router: RouterName, argv: readonly string[], o?: RunOptions) =>
    runner.run(["ip", "netns", "exec", namespaces[router], ...argv], o);
  const pidFile = (router: RouterName) => `${dir}/router-${router}.pid`;
  const curl = async (router: RouterName, path: string) => {
    const r = await exec(router, ["curl", "-s", "-m", "2", `${ADMIN}${path}`], {
      okCodes: [0, 7, 28, 52, 56],
    });
    return r.code === 0 ? r.stdout : undefined;
  };
  const has = (links: string, address: string) => links.includes(`"local":"${address}"`);

  const stopRouters = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const router of ROUTERS) {
      if ((await listNamespaces(runner)).includes(namespaces[router])) {
        await killNamespaceProcesses(runner, namespaces[router], 3000);
      }
    }
  };

  const ha: HaLab = {
    lab,
    namespaces,
    exec,
    logFile: (router) => `${dir}/router-${router}.log`,

    startRouter(router, extraEnv = {}, options = {}) {
      mkdirSync(dir, { recursive: true });
      const log = openSync(ha.logFile(router), "a", 0o644);
      const ip = findProgram("ip", process.env) ?? "ip";
      const main = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
      let child: ChildProcess;
      try {
        // `ip netns exec` execs the program: the child's pid is the router's own
        child = spawn(
          ip,
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
            detached: options.detached === true,
            env: {
              PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
              ...routerEnv(lab, router, dir),
              ...extraEnv,
            },
          },
        );
      } finally {
        closeSync(log);
      }
      if (child.pid !== undefined) writeFileSync(pidFile(router), `${child.pid}\n`);
      if (options.detached === true) child.unref();
      else {
        children.add(child);
        child.once("exit", () => children.delete(child));
      }
      return child;
    },

    async killRouter(router, signal) {
      let pids: number[];
      if (signal === "SIGTERM") {
        const pid = existsSync(pidFile(router))
          ? Number(readFileSync(pidFile(router), "utf8").trim())
          : NaN;
        pids = Number.isInteger(pid) && pid > 0 ? [pid] : [];
      } else {
        const r = await runner.run(["ip", "netns", "pids", namespaces[router]]);
        pids = r.stdout
          .split("\n")
          .map((l) => Number(l.trim()))
          .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
      }
      for (const pid of pids) {
        try {
          process.kill(pid, signal);
        } catch {
          // already gone
        }
      }
      return pids;
    },

    async state(router) {
      const [statusText, links] = await Promise.all([
        curl(router, "/status.json"),
        exec(router, ["ip", "-j", "address", "show"]).then((r) => r.stdout),
      ]);
      let status: { ready?: boolean; service?: { ha?: Record<string, unknown> } } | undefined;
      try {
        status = statusText ? (JSON.parse(statusText) as typeof status) : undefined;
      } catch {
        status = undefined;
      }
      const h = status?.service?.ha;
      const split = h?.["splitBrain"] as { state?: string } | undefined;
      return {
        router,
        running: status !== undefined,
        role: typeof h?.["role"] === "string" ? h["role"] : undefined,
        reason: typeof h?.["reason"] === "string" ? h["reason"] : undefined,
        ready: status?.ready === true,
        source: has(links, lab.v4.source),
        vip: has(links, CLUSTER_VIP),
        splitBrain: split?.state,
      };
    },

    async holder() {
      const states = await Promise.all(ROUTERS.map((r) => ha.state(r)));
      const holding = states.filter((s) => s.ready && s.source && s.vip);
      return holding.length === 1 ? holding[0]?.router : undefined;
    },

    async setEgressLink(router, up) {
      const state = up ? "up" : "down";
      if (t.egressLink === "veth") {
        const port = router === "a" ? "v-router" : "v-router-b";
        await lab.exec("gateway", ["ip", "link", "set", port, state]);
      } else {
        await exec(router, ["ip", "link", "set", t.egressInterface, state]);
      }
    },

    async partition(on) {
      for (const router of ROUTERS) {
        const text = on
          ? [
              `table netdev ${PARTITION_TABLE} {`,
              "\tchain vrrp {",
              `\t\ttype filter hook ingress device ${JSON.stringify(t.egressInterface)} priority -500; policy accept;`,
              "\t\tip protocol 112 counter drop",
              "\t\tip6 nexthdr 112 counter drop",
              "\t}",
              "}",
              "",
            ].join("\n")
          : `table netdev ${PARTITION_TABLE}\ndelete table netdev ${PARTITION_TABLE}\n`;
        await exec(router, ["nft", "-f", "-"], { input: text });
      }
    },

    async traffic(options = {}) {
      for (const router of ROUTERS) {
        await exec(router, ["conntrack", "-F"], { okCodes: [0, 1] }).catch(() => undefined);
      }
      const script = fileURLToPath(new URL("./lab-traffic.ts", import.meta.url));
      const child = lab.spawn(
        "client",
        [
          process.execPath,
          "--disable-warning=ExperimentalWarning",
          script,
          `--address=${CLUSTER_VIP}`,
          `--port=${HA_PORT}`,
          `--every-ms=${options.everyMs ?? 20}`,
          `--timeout-ms=${options.timeoutMs ?? 10_000}`,
        ],
        { stdio: ["pipe", "pipe", "inherit"] },
      );
      const attempts: Attempt[] = [];
      if (child.stdout) {
        createInterface({ input: child.stdout }).on("line", (line) => {
          try {
            attempts.push(JSON.parse(line) as Attempt);
          } catch {
            // not an attempt: ignore
          }
        });
      }
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null) resolve();
        else child.once("exit", () => resolve());
      });
      return {
        attempts,
        async stop() {
          child.stdin?.end();
          const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
          await exited;
          clearTimeout(timer);
          return attempts;
        },
      };
    },

    async carried(router, attempt) {
      if (attempt.peerPort === undefined) return false;
      const r = await exec(
        router,
        ["conntrack", "-L", "-p", "tcp", "--reply-port-dst", String(attempt.peerPort)],
        { okCodes: [0, 1] },
      );
      return r.stdout.includes(`dport=${attempt.peerPort}`);
    },

    async removeSecondRouter() {
      await stopRouters();
      if ((await listNamespaces(runner)).includes(nsB)) {
        await runner.run(["ip", "netns", "delete", nsB]);
      }
    },

    async down() {
      await stopRouters();
      await lab.down();
    },
  };
  return ha;
}

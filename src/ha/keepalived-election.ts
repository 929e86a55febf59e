// The keepalived election engine: renders keepalived's configuration, starts it in the
// foreground as our child, reads its state changes from a FIFO, and watches it.
//
// - keepalived runs under `setpriv --pdeathsig SIGTERM`: if this process dies, keepalived is
//   told to stop, gives the address up and sends a priority-0 advertisement, so the standby
//   takes over at once instead of waiting for the advertisements to time out.
// - If keepalived dies, this replica reports `fault` at once (the holder actions drop NAT and
//   readiness), removes the addresses keepalived left behind (nobody else will: they are
//   keepalived's), then restarts keepalived with a growing delay; after
//   `maxRestarts` exits within `restartWindowMs` it gives up and reports a fatal error (the
//   process exits, the pod restarts, the operator sees it).
// - The FIFO is opened read-write, so it never reports end-of-file when keepalived closes
//   its end (a restart) and a writer never blocks on it.
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { constants, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { createInterface } from "node:readline";
import type { Env } from "../config/read-setting.ts";
import { createCommandRunner, findProgram } from "../redirect/command-runner.ts";
import type { Election, Role, RoleChange, StepDownReason } from "./election.ts";
import type { HaLog } from "./ha-log.ts";
import type { KeepalivedPlan } from "./keepalived-config.ts";
import {
  KEEPALIVED_INSTANCE,
  keepalivedAddresses,
  renderKeepalivedConfig,
} from "./keepalived-config.ts";
import { parseKeepalivedEvent } from "./keepalived-events.ts";

export interface KeepalivedElectionOptions {
  readonly plan: Omit<KeepalivedPlan, "fifo" | "faultFile">;
  readonly runDir: string;
  readonly env: Env;
  /** one line per keepalived log line and per supervision event */
  readonly log: HaLog;
  /** called once when keepalived cannot be kept running; the router must exit */
  readonly onFatal: (err: Error) => void;
  readonly maxRestarts?: number;
  readonly restartWindowMs?: number;
  /** time keepalived gets to stop gracefully before SIGKILL */
  readonly stopTimeoutMs?: number;
}

export class KeepalivedNotFound extends Error {}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function createKeepalivedElection(o: KeepalivedElectionOptions): Election {
  const files = {
    config: `${o.runDir}/keepalived.conf`,
    fifo: `${o.runDir}/keepalived.fifo`,
    fault: `${o.runDir}/fault`,
    pid: `${o.runDir}/keepalived.pid`,
    vrrpPid: `${o.runDir}/vrrp.pid`,
  };
  const maxRestarts = o.maxRestarts ?? 5;
  const windowMs = o.restartWindowMs ?? 60_000;
  const stopTimeoutMs = o.stopTimeoutMs ?? 5000;
  const faults = new Set<StepDownReason>();
  const exits: number[] = [];
  let child: ChildProcess | undefined;
  let onRole: (c: RoleChange) => void = () => {};
  let stopping = false;
  let restarts = 0;
  let lastState = "none";
  let restartTimer: NodeJS.Timeout | undefined;
  let fifo: Socket | undefined;

  const report = (role: Role, reason: string) => onRole({ role, reason, at: performance.now() });

  const writeFault = () => {
    // keepalived watches the file (inotify): non-zero puts the instance in FAULT at once
    writeFileSync(files.fault, faults.size > 0 ? "1\n" : "0\n");
  };

  const openFifo = () => {
    rmSync(files.fifo, { force: true });
    // mkfifo has no Node API; the runner uses argv, never a shell
    return createCommandRunner({ env: o.env }).run(["mkfifo", "-m", "0600", files.fifo]);
  };

  const readFifo = () => {
    // non-blocking, as a libuv pipe: a blocking FIFO read would pin a thread-pool thread
    const fd = openSync(files.fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const stream = new Socket({ fd, readable: true, writable: false });
    fifo = stream;
    stream.setEncoding("utf8");
    stream.on("error", (err) => {
      if (!stopping) o.log("error", "keepalived event FIFO failed", { error: err.message });
    });
    const rl = createInterface({ input: stream });
    rl.on("line", (line) => {
      const e = parseKeepalivedEvent(line);
      if (!e || e.instance !== KEEPALIVED_INSTANCE) return;
      lastState = e.state;
      o.log("info", "keepalived state", { state: e.state, priority: e.priority });
      report(e.role, `keepalived ${e.state}`);
    });
  };

  const launch = () => {
    const setpriv = findProgram("setpriv", o.env);
    const keepalived = findProgram("keepalived", o.env);
    if (!keepalived) {
      throw new KeepalivedNotFound(
        "EGRESS_HA_ELECTION: Cannot start keepalived: it is not installed (not in PATH or the sbin/bin directories); install the keepalived package or use EGRESS_HA_ELECTION=none",
      );
    }
    const args = [
      "--dont-fork",
      "--log-console",
      "--log-detail",
      "--vrrp",
      `--use-file=${files.config}`,
      `--pid=${files.pid}`,
      `--vrrp_pid=${files.vrrpPid}`,
    ];
    const argv = setpriv
      ? [setpriv, "--pdeathsig", "SIGTERM", keepalived, ...args]
      : [keepalived, ...args];
    if (!setpriv) o.log("warn", "setpriv not found");
    const [file = "", ...rest] = argv;
    const c = spawn(file, rest, { stdio: ["ignore", "pipe", "pipe"], shell: false });
    child = c;
    for (const s of [c.stdout, c.stderr]) {
      createInterface({ input: s }).on("line", (line) => {
        // keepalived's console lines start with its own timestamp; keep the message only
        const msg = line.replace(/^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: /, "");
        if (msg !== "") o.log("debug", "keepalived", { keepalived: msg });
      });
    }
    c.on("error", (err) =>
      o.log("error", "keepalived could not be started", { error: err.message }),
    );
    c.on("exit", (code, signal) => {
      child = undefined;
      if (stopping) return;
      lastState = "exited";
      o.log("error", "keepalived exited", { code, signal });
      report("fault", "keepalived exited");
      const now = Date.now();
      exits.push(now);
      while (exits.length > 0 && (exits[0] ?? now) < now - windowMs) exits.shift();
      if (exits.length > maxRestarts) {
        o.onFatal(
          new Error(
            `EGRESS_HA_ELECTION: Cannot keep keepalived running: it exited ${exits.length} times in ${Math.round(windowMs / 1000)} s (last: ${signal ?? `exit code ${String(code)}`}); see its log lines above`,
          ),
        );
        return;
      }
      const delay = Math.min(200 * 2 ** (exits.length - 1), 10_000);
      restarts += 1;
      void removeLeftAddresses().then(() => {
        if (stopping) return;
        restartTimer = setTimeout(() => {
          restartTimer = undefined;
          if (stopping) return;
          o.log("warn", "restarting keepalived", { restarts });
          try {
            launch();
          } catch (err) {
            o.onFatal(err as Error);
          }
        }, delay);
      });
    });
  };

  // A keepalived that died (SIGKILL, crash) leaves its addresses on the interfaces; the
  // peer is taking them over, so they go now, before a restart (never concurrently with one).
  const removeLeftAddresses = async () => {
    const runner = createCommandRunner({ env: o.env });
    for (const a of keepalivedAddresses(o.plan)) {
      await runner
        .run(["ip", "address", "del", a.cidr, "dev", a.dev], { okCodes: [0, 2] })
        .catch((err: unknown) =>
          o.log("error", "cannot remove an address keepalived left", {
            address: a.cidr,
            error: err instanceof Error ? err.message : String(err),
          }),
        );
    }
  };

  // VRRP over IPv6 speaks from the egress interface's link-local address. While that address
  // is still tentative (duplicate address detection, about 1 s after the link comes up),
  // nothing can be sent or heard, and two replicas starting together would both elect
  // themselves. So keepalived starts only once the address is usable.
  const waitForLinkLocal = async () => {
    const runner = createCommandRunner({ env: o.env });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await runner.run([
        "ip",
        "-6",
        "-j",
        "address",
        "show",
        "dev",
        o.plan.egressInterface,
        "scope",
        "link",
      ]);
      const links = JSON.parse(r.stdout || "[]") as {
        addr_info?: { tentative?: boolean; dadfailed?: boolean }[];
      }[];
      const infos = links.flatMap((l) => l.addr_info ?? []);
      if (infos.some((a) => a.tentative !== true && a.dadfailed !== true)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `EGRESS_HA_PEERS: Cannot run VRRP over IPv6 multicast: ${o.plan.egressInterface} has no usable IPv6 link-local address after 10 s (IPv6 disabled?); enable IPv6 on the egress interface or list unicast peers in EGRESS_HA_PEERS`,
        );
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  };

  return {
    engine: "keepalived",
    managesAddresses: true,

    async start(callback) {
      onRole = callback;
      mkdirSync(o.runDir, { recursive: true, mode: 0o700 });
      // a keepalived left over from a previous run of this router (same run directory)
      for (const f of [files.pid, files.vrrpPid]) {
        const pid = readPid(f);
        if (pid !== undefined && alive(pid)) {
          o.log("warn", "stopping a keepalived left by a previous run", { pid });
          process.kill(pid, "SIGKILL");
        }
        rmSync(f, { force: true });
      }
      writeFault();
      writeFileSync(
        files.config,
        renderKeepalivedConfig({ ...o.plan, fifo: files.fifo, faultFile: files.fault }),
        { mode: 0o600 },
      );
      await openFifo();
      readFifo();
      report("starting", "keepalived starting");
      if (o.plan.ha.peers.length === 0) await waitForLinkLocal();
      launch();
    },

    async setFault(reason, fault) {
      const had = faults.size > 0;
      if (fault) faults.add(reason);
      else faults.delete(reason);
      if (had !== faults.size > 0) {
        o.log(fault ? "warn" : "info", fault ? "giving the role up" : "fit to hold again", {
          reason,
        });
        writeFault();
      }
      await Promise.resolve();
    },

    async stop() {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      const c = child;
      if (c && c.exitCode === null) {
        const exited = new Promise<void>((r) => c.once("exit", () => r()));
        c.kill("SIGTERM");
        const timer = setTimeout(() => {
          o.log("warn", "keepalived did not stop in time");
          c.kill("SIGKILL");
          const vrrp = readPid(files.vrrpPid);
          if (vrrp !== undefined && alive(vrrp)) process.kill(vrrp, "SIGKILL");
        }, stopTimeoutMs);
        await exited;
        clearTimeout(timer);
      }
      fifo?.destroy();
      fifo = undefined;
      report("stopped", "keepalived stopped");
    },

    status() {
      return {
        engine: "keepalived",
        pid: child?.pid,
        vrrpPid: readPid(files.vrrpPid),
        state: lastState,
        restarts,
        faults: [...faults],
        config: files.config,
      };
    },
  };
}

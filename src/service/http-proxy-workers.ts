// The HTTP proxy on every core: one worker process per CPU, each listening on the same port
// with SO_REUSEPORT (the kernel spreads connections). Every policy goes to all of them;
// their events are relayed to this process's observers; their counters are summed for
// status(); a worker that dies is replaced; stop() drains them all.
import { fork, type ChildProcess } from "node:child_process";
import diagnostics_channel from "node:diagnostics_channel";
import { fileURLToPath } from "node:url";
import type { HttpProxySettings } from "../config/http-proxy-settings.ts";
import type { ProxyStats } from "../http-proxy/proxy-server.ts";
import type { Service } from "../observe/service.ts";
import type { HttpPolicy } from "../policy/http-policy.ts";
import { listenProblem, newViaToken, statusOf, zeroStats } from "./http-proxy-status.ts";
import {
  relayableChannels,
  type FromWorker,
  type ToWorker,
  type WorkerPolicy,
} from "./worker-protocol.ts";

const workerFile = fileURLToPath(new URL("./http-proxy-worker.ts", import.meta.url));
/** a worker that does not answer a command in this long is considered broken */
const COMMAND_TIMEOUT_MS = 10_000;
const RESTART_DELAY_MS = 1_000;

const relayChannels = new Map<string, diagnostics_channel.Channel>();
function relayChannel(name: string): diagnostics_channel.Channel {
  let ch = relayChannels.get(name);
  if (ch === undefined) {
    ch = diagnostics_channel.channel(`egress-router:${name}`);
    relayChannels.set(name, ch);
  }
  return ch;
}

interface Worker {
  readonly index: number;
  child: ChildProcess;
  stats: ProxyStats;
  generation: number;
  listening: boolean;
  stopping: boolean;
  waiters: ((m: FromWorker) => boolean)[];
}

/** One worker process per CPU, sharing the port. */
export function workerService(s: HttpProxySettings, initial: HttpPolicy): Service<HttpPolicy> {
  let policy = initial;
  let generation = 1;
  let port = s.port;
  let stopping = false;
  let restarts = 0;
  const viaToken = newViaToken();
  const workers: Worker[] = [];

  const workerPolicy = (): WorkerPolicy => ({
    rules: policy.rules,
    connectPorts: policy.connectPorts,
    generation,
  });

  const observed = (): string[] =>
    relayableChannels.filter((n) => diagnostics_channel.hasSubscribers(`egress-router:${n}`));
  let relayed = "";

  const sendTo = (w: Worker, m: ToWorker) => {
    if (w.child.connected) w.child.send(m);
  };

  const waitFor = (w: Worker, match: (m: FromWorker) => boolean): Promise<FromWorker> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        w.waiters = w.waiters.filter((f) => f !== check);
        reject(new Error(`http-proxy worker ${w.index} did not answer`));
      }, COMMAND_TIMEOUT_MS);
      const check = (m: FromWorker) => {
        if (!match(m)) return false;
        clearTimeout(timer);
        resolve(m);
        return true;
      };
      w.waiters.push(check);
    });

  const onWorkerMessage = (w: Worker, m: FromWorker) => {
    switch (m.type) {
      case "events":
        for (let i = 0; i < m.events.length; i += 2) {
          const ch = relayChannel(m.events[i] as string);
          if (ch.hasSubscribers) ch.publish(m.events[i + 1]);
        }
        break;
      case "stats":
        w.stats = m.stats;
        w.generation = m.generation;
        break;
      case "listening":
        w.listening = true;
        break;
      case "listen-failed":
      case "applied":
      case "stopped":
        break;
    }
    w.waiters = w.waiters.filter((f) => !f(m));
  };

  const spawnWorker = (index: number): Worker => {
    const child = fork(workerFile, [], {
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: ["--disable-warning=ExperimentalWarning"],
    });
    const w: Worker = {
      index,
      child,
      stats: zeroStats(policy.rules.length),
      generation,
      listening: false,
      stopping: false,
      waiters: [],
    };
    child.on("message", (m: FromWorker) => onWorkerMessage(w, m));
    child.on("exit", (code, signal) => {
      w.listening = false;
      if (stopping || w.stopping) return;
      // An unexpected death: its connections are lost; keep the port served by a new one.
      restarts++;
      process.stderr.write(
        `egress-router: http-proxy worker ${index} exited (${signal ?? `code ${code}`}); starting a new one\n`,
      );
      setTimeout(() => {
        if (stopping) return;
        const next = spawnWorker(index);
        workers[index] = next;
        void startWorker(next).catch((err: unknown) => {
          process.stderr.write(`egress-router: http-proxy worker ${index}: ${String(err)}\n`);
        });
      }, RESTART_DELAY_MS).unref();
    });
    return w;
  };

  const startWorker = async (w: Worker): Promise<void> => {
    const answer = waitFor(w, (m) => m.type === "listening" || m.type === "listen-failed");
    relayed = observed().join(",");
    sendTo(w, {
      type: "start",
      settings: s,
      policy: workerPolicy(),
      port,
      viaToken,
      relay: observed(),
    });
    const m = await answer;
    if (m.type === "listen-failed") throw listenProblem(s, m.code, m.message);
    if (m.type === "listening") port = m.port;
  };

  let relayTimer: NodeJS.Timeout | undefined;

  return {
    async start() {
      try {
        // The first worker alone, so that with port 0 the others learn which port it got.
        const first = spawnWorker(0);
        workers.push(first);
        await startWorker(first);
        const rest: Worker[] = [];
        for (let i = 1; i < s.workers; i++) {
          const w = spawnWorker(i);
          workers.push(w);
          rest.push(w);
        }
        await Promise.all(rest.map(startWorker));
      } catch (err) {
        stopping = true;
        for (const w of workers) w.child.kill("SIGKILL");
        throw err;
      }
      // Observers may come and go (tests, the daemon's subscribers): keep the relay in step.
      relayTimer = setInterval(() => {
        const now = observed();
        if (now.join(",") === relayed) return;
        relayed = now.join(",");
        for (const w of workers) sendTo(w, { type: "relay", relay: now });
      }, 1000);
      relayTimer.unref();
    },
    async apply(next) {
      policy = next;
      generation++;
      const p = workerPolicy();
      await Promise.all(
        workers
          .filter((w) => w.child.connected)
          .map((w) => {
            const done = waitFor(w, (m) => m.type === "applied" && m.generation === p.generation);
            sendTo(w, { type: "policy", policy: p });
            return done;
          }),
      );
    },
    async stop(drainMs) {
      stopping = true;
      clearInterval(relayTimer);
      await Promise.all(
        workers.map(async (w) => {
          if (w.child.exitCode !== null || w.child.signalCode !== null) return;
          w.stopping = true;
          const exited = new Promise<void>((resolve) => w.child.once("exit", () => resolve()));
          sendTo(w, { type: "stop", drainMs });
          const killer = setTimeout(() => w.child.kill("SIGKILL"), drainMs + 5_000);
          await exited;
          clearTimeout(killer);
        }),
      );
    },
    status() {
      const current = workers.filter((w) => w.generation === generation).map((w) => w.stats);
      // The port is served while any worker listens: the kernel gives a dead worker's
      // share of new connections to the others. Readiness must not flap during a restart.
      const up = workers.some((w) => w.listening);
      return statusOf(s, port, up, policy, current, {
        workers: workers.length,
        workersListening: workers.filter((w) => w.listening).length,
        workerRestarts: restarts,
      });
    },
  };
}

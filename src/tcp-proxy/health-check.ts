// Optional active health checks: every address of a pool gets a TCP connect every interval
// (with a random start offset, so pools do not check in lockstep). `fall` failed checks in a
// row mark an address down until `rise` checks in a row pass. A check that connects is
// closed at once with a FIN; it sends no data.
import net from "node:net";
import { publishUpstreamHealth } from "../observe/events.ts";
import type { HealthCheckOptions } from "./forward-config.ts";
import { classifyConnectError } from "./dial.ts";
import type { Upstream, UpstreamPool } from "./upstream-pool.ts";

export class HealthChecker {
  readonly #pool: UpstreamPool;
  readonly #options: HealthCheckOptions;
  readonly #destination: string;
  readonly #onChange: () => void;
  readonly #inFlight = new Set<net.Socket>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    pool: UpstreamPool,
    options: HealthCheckOptions,
    destination: string,
    onChange: () => void,
  ) {
    this.#pool = pool;
    this.#options = options;
    this.#destination = destination;
    this.#onChange = onChange;
  }

  start(): void {
    this.#schedule(Math.random() * this.#options.intervalMs);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const s of this.#inFlight) s.destroy();
    this.#inFlight.clear();
  }

  /** Checks every address once now; resolves when all answered or timed out. */
  checkAll(): Promise<void> {
    return Promise.all(this.#pool.upstreams.map((u) => this.#check(u))).then(() => undefined);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.checkAll().then(() => {
        this.#schedule(this.#options.intervalMs);
      });
    }, ms);
    this.#timer.unref();
  }

  #check(u: Upstream): Promise<void> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: u.address, port: this.#pool.port, family: u.family });
      this.#inFlight.add(socket);
      socket.setTimeout(this.#options.timeoutMs);
      const finish = (error: string | undefined): void => {
        socket.removeAllListeners();
        socket.on("error", () => undefined);
        socket.destroy();
        this.#inFlight.delete(socket);
        if (!this.#stopped) this.#record(u, error);
        resolve();
      };
      socket.once("connect", () => {
        finish(undefined);
      });
      socket.once("timeout", () => {
        finish("timeout");
      });
      socket.once("error", (err: NodeJS.ErrnoException) => {
        finish(classifyConnectError(err.code));
      });
    });
  }

  #record(u: Upstream, error: string | undefined): void {
    // The address may have left the pool (DNS change) while the check ran.
    if (this.#pool.find(u.address) !== u) return;
    const o = this.#options;
    if (error === undefined) {
      u.checkFailures = 0;
      u.checkPasses += 1;
      if (!u.up && u.checkPasses >= o.rise) {
        this.#pool.markUp(u);
        this.#changed(u, true, undefined);
      }
      return;
    }
    u.checkPasses = 0;
    u.checkFailures += 1;
    if (u.up && u.checkFailures >= o.fall) {
      this.#pool.markCheckedDown(u, error);
      this.#changed(u, false, error);
    } else if (!u.up && u.downUntil !== Infinity) {
      // Down after a failed connect and the check agrees: keep it down until a check passes.
      this.#pool.markCheckedDown(u, error);
    }
  }

  #changed(u: Upstream, up: boolean, error: string | undefined): void {
    publishUpstreamHealth({
      mode: "dns-proxy",
      destination: this.#destination,
      address: u.address,
      up,
      cause: "check",
      error,
      retryAt: undefined,
    });
    this.#onChange();
  }
}

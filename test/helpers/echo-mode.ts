// A tiny mode for testing the daemon host for real: one TCP listener that echoes each line
// back with the configured prefix. It follows the Service contract the real modes follow
// (pure compile, apply swaps the config for new connections only, stop drains) and
// publishes the same events, so logs, metrics, reload and the status page are exercised
// end to end with real sockets.
//
// Rules, one per line (`#` comments and blank lines skipped):
//   listen <port>     exactly once; cannot change at run time (apply rejects it)
//   reply <prefix>    exactly once; every echoed line starts with "<prefix> "
//   deny <word>       a connection whose first line starts with <word> is refused
//   name <host> <address>...   shown as a named destination (status page)
import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import type { ConfigProblem } from "../../src/config/config-error.ts";
import { ConfigError } from "../../src/config/config-error.ts";
import type { CloseReason } from "../../src/observe/events.ts";
import {
  publishConnectionClose,
  publishConnectionOpen,
  publishDecision,
} from "../../src/observe/events.ts";
import type { ModeDefinition, Service, ServiceStatus } from "../../src/observe/service.ts";

export const echoSetting = "ECHO_TEST_RULES";

interface EchoRule {
  readonly line: number;
  readonly text: string;
  readonly kind: "listen" | "reply" | "deny" | "name";
  readonly arg: string;
  readonly addresses: readonly string[];
}

export interface EchoConfig {
  readonly port: number;
  readonly prefix: string;
  readonly rules: readonly EchoRule[];
}

export function compileEcho(text: string): EchoConfig {
  const problems: ConfigProblem[] = [];
  const rules: EchoRule[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = i + 1;
    const t = raw.trim();
    if (t === "" || t.startsWith("#")) return;
    const [kind, arg, ...rest] = t.split(/ +/);
    const ok =
      (kind === "listen" && arg !== undefined && /^\d+$/.test(arg) && rest.length === 0) ||
      ((kind === "reply" || kind === "deny") && arg !== undefined && rest.length === 0) ||
      (kind === "name" && arg !== undefined && rest.length > 0);
    if (!ok) {
      problems.push({
        code: "line-invalid",
        setting: echoSetting,
        line,
        message: `${echoSetting} line ${line}: Cannot parse "${t}": not a rule; use "listen <port>", "reply <prefix>", "deny <word>" or "name <host> <address>..."`,
      });
      return;
    }
    rules.push({ line, text: t, kind: kind, arg, addresses: rest });
  });
  const listen = rules.filter((r) => r.kind === "listen");
  const reply = rules.filter((r) => r.kind === "reply");
  if (listen.length !== 1 || reply.length !== 1)
    problems.push({
      code: "rules-missing",
      setting: echoSetting,
      message: `${echoSetting}: Cannot start with ${listen.length} listen and ${reply.length} reply lines: exactly one of each is needed; add or remove lines`,
    });
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze({
    port: Number(listen[0]!.arg),
    prefix: reply[0]!.arg,
    rules: Object.freeze(rules),
  });
}

class EchoService implements Service<EchoConfig> {
  #config: EchoConfig;
  #server: Server | undefined;
  #up = false;
  #port: number;
  readonly #sockets = new Map<Socket, { end: CloseReason }>();
  readonly #hits = new Map<string, number>();

  constructor(config: EchoConfig) {
    this.#config = config;
    this.#port = config.port;
  }

  get port(): number {
    return this.#port;
  }

  async start(): Promise<void> {
    const server = createServer({ allowHalfOpen: true }, (s) => this.#handle(s));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: this.#config.port }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#up = true;
  }

  async apply(config: EchoConfig): Promise<void> {
    if (config.port !== this.#config.port && config.port !== 0)
      throw new Error(
        `listen port ${this.#config.port} cannot change to ${config.port} at run time`,
      );
    this.#config = config;
    await Promise.resolve();
  }

  async stop(drainMs: number): Promise<void> {
    const server = this.#server;
    this.#up = false;
    if (server) server.close();
    const deadline = Date.now() + drainMs;
    while (this.#sockets.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const [s, state] of this.#sockets) {
      state.end = "drain";
      s.destroy();
    }
    while (this.#sockets.size > 0) await new Promise((r) => setTimeout(r, 5));
  }

  status(): ServiceStatus {
    return {
      mode: "echo",
      listeners: [{ address: "127.0.0.1", port: this.#port, up: this.#up }],
      activeConnections: this.#sockets.size,
      rules: this.#config.rules.map((r) => ({
        line: r.line,
        text: r.text,
        hits: this.#hits.get(r.text) ?? 0,
        ...(r.kind === "name"
          ? { addresses: r.addresses.map((a) => ({ address: a, up: true })) }
          : {}),
      })),
    };
  }

  #hit(rule: EchoRule): void {
    this.#hits.set(rule.text, (this.#hits.get(rule.text) ?? 0) + 1);
  }

  #handle(socket: Socket): void {
    const config = this.#config; // this connection keeps the config it started with
    const started = Date.now();
    const client = `${socket.remoteAddress}:${socket.remotePort}`;
    const listener = String(this.#port);
    const state: { end: CloseReason } = { end: "done" };
    this.#sockets.set(socket, state);
    publishConnectionOpen({ mode: "http-proxy", listener, client });
    let buffered = "";
    let decided = false;
    let inBytes = 0;
    let outBytes = 0;
    const write = (s: string) => {
      outBytes += Buffer.byteLength(s);
      socket.write(s);
    };
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      inBytes += Buffer.byteLength(chunk);
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!decided) {
          decided = true;
          const deny = config.rules.find((r) => r.kind === "deny" && line.startsWith(r.arg));
          const reply = config.rules.find((r) => r.kind === "reply")!;
          this.#hit(deny ?? reply);
          publishDecision({
            mode: "http-proxy",
            client,
            destination: line,
            address: undefined,
            action: deny ? "deny" : "allow",
            reason: deny ? "denied-by-rule" : "allowed-by-rule",
            ruleLine: (deny ?? reply).line,
            audit: false,
          });
          if (deny) {
            state.end = "denied";
            write("denied\n");
            socket.end();
            return;
          }
        }
        write(`${config.prefix} ${line}\n`);
      }
    });
    socket.on("end", () => socket.end());
    socket.on("error", () => {
      if (state.end === "done") state.end = "client-reset";
    });
    socket.on("close", () => {
      this.#sockets.delete(socket);
      publishConnectionClose({
        mode: "http-proxy",
        listener,
        client,
        destination: undefined,
        address: undefined,
        ruleLine: undefined,
        bytesFromClient: inBytes,
        bytesToClient: outBytes,
        durationMs: Date.now() - started,
        end: state.end,
      });
    });
  }
}

export const echoMode: ModeDefinition<EchoConfig> = {
  mode: "echo",
  rulesSetting: echoSetting,
  compile: compileEcho,
  create: (config) => new EchoService(config),
};

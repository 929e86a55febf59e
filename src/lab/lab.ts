// The network-namespace lab as a programmatic API: build it, run commands and programs in
// its namespaces, look at the external firewall, change DNS answers, tear it down.
//
//   await using lab = await createLab({ name: "t1" });
//   await lab.exec("router", ["ip", "-4", "route"]);
//   const child = lab.spawn("router", [process.execPath, "src/cli/main.ts", "..."]);
//   const { admitted, rejectedSources } = await lab.firewall();
//
// Every lab has unique namespace names (erlab-<name>-<role>), so several can run at once.
// A lab that fails half-way is torn down before the error is thrown; down() removes every
// namespace, every process inside them, and the lab's files.
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Env } from "../config/read-setting.ts";
import type { CommandResult, CommandRunner, RunOptions } from "../redirect/command-runner.ts";
import { createCommandRunner, findProgram } from "../redirect/command-runner.ts";
import { labBuildSteps } from "./build.ts";
import type { DnsRecord } from "./dns.ts";
import { defaultDnsRecords, renderHostsFile, renderResolvConf } from "./dns.ts";
import type { FirewallState } from "./firewall.ts";
import { FIREWALL_TABLE, parseFirewallState, renderFirewallReset } from "./firewall.ts";
import { killNamespaceProcesses, listNamespaces } from "./namespaces.ts";
import type { ProbeProtocol, ProbeResult } from "./lab-probe.ts";
import type { FamilyAddresses, LabRole, LabTopology, TopologyOptions } from "./topology.ts";
import {
  EXTRA_ROLES,
  LAB_ROLES,
  labTopology,
  namespaceName,
  parseNamespaceName,
} from "./topology.ts";
import { LabError, requireRoot } from "./lab-error.ts";
import { startServers } from "./lab-servers.ts";
import { probeSctp } from "./sctp.ts";
import { egressLinkUnsupportedReason } from "./link-support.ts";

export { LabError, requireRoot } from "./lab-error.ts";
export { LAB_SERVER_PORTS } from "./lab-servers.ts";
export { sctpUnsupportedReason } from "./sctp.ts";
export { egressLinkUnsupportedReason } from "./link-support.ts";

/** Where labs keep their runtime files (hosts file, logs, pid files). */
export const DEFAULT_LAB_STATE_DIR = "/run/egress-router-lab";

/** What a probe connects to. */
export interface ProbeTarget {
  readonly protocol: ProbeProtocol;
  readonly address: string;
  readonly port: number;
  /** default 2000 */
  readonly timeoutMs?: number;
  /** HTTP Host header (protocol "http") */
  readonly host?: string;
}

export interface LabOptions extends TopologyOptions {
  /** unique name; default: one made from the process id and a counter */
  readonly name?: string;
  readonly stateDir?: string;
  /** the DNS server's names; default defaultDnsRecords() */
  readonly records?: readonly DnsRecord[];
  /** start the external server and the DNS server (default true) */
  readonly servers?: boolean;
  /** one line per command run (for `--verbose` and debugging tests) */
  readonly trace?: (line: string) => void;
  /** environment used to find ip, nft, dnsmasq; default process.env */
  readonly env?: Env;
}

interface LabStateFile {
  readonly name: string;
  readonly options: TopologyOptions;
  readonly createdAt: string;
  readonly servers: boolean;
}

let counter = 0;
/** A lab name no other process on this host uses at the same time. */
export function uniqueLabName(prefix = "t"): string {
  counter += 1;
  return `${prefix}${process.pid.toString(36)}x${counter.toString(36)}`;
}

export class Lab implements AsyncDisposable {
  readonly name: string;
  readonly topology: LabTopology;
  readonly namespaces: Readonly<Record<LabRole, string>>;
  readonly v4: FamilyAddresses;
  readonly v6: FamilyAddresses;
  /** this lab's directory for files (hosts file, logs) */
  readonly dir: string;
  readonly #runner: CommandRunner;
  readonly #env: Env;
  readonly #children = new Set<ChildProcess>();
  #records: readonly DnsRecord[];

  constructor(topology: LabTopology, dir: string, runner: CommandRunner, env: Env) {
    this.name = topology.name;
    this.topology = topology;
    this.namespaces = topology.namespaces;
    this.v4 = topology.v4;
    this.v6 = topology.v6;
    this.dir = dir;
    this.#runner = runner;
    this.#env = env;
    this.#records = defaultDnsRecords(topology);
  }

  /** Runs argv inside a namespace; rejects with a CommandError naming the command on failure. */
  exec(role: LabRole, argv: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return this.#runner.run(["ip", "netns", "exec", this.namespaces[role], ...argv], options);
  }

  /** Starts a long-running program inside a namespace. down() ends it if it is still running. */
  spawn(role: LabRole, argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const ip = findProgram("ip", this.#env);
    if (ip === undefined) throw new LabError("lab: Cannot find the ip program; install iproute2");
    const child = spawn(ip, ["netns", "exec", this.namespaces[role], ...argv], {
      stdio: ["ignore", "pipe", "pipe"],
      ...options,
      shell: false,
    });
    this.#children.add(child);
    child.once("exit", () => this.#children.delete(child));
    return child;
  }

  /**
   * Makes one connection (or sends one datagram) from a namespace and reports what happened
   * and what the external server saw. Runs the pinned Node.js inside the namespace.
   */
  async probe(from: LabRole, target: ProbeTarget): Promise<ProbeResult> {
    const timeoutMs = target.timeoutMs ?? 2000;
    const r = await this.exec(
      from,
      [
        process.execPath,
        "--disable-warning=ExperimentalWarning",
        fileURLToPath(new URL("./lab-probe.ts", import.meta.url)),
        `--protocol=${target.protocol}`,
        `--address=${target.address}`,
        `--port=${target.port}`,
        `--timeout-ms=${timeoutMs}`,
        ...(target.host !== undefined ? [`--host=${target.host}`] : []),
      ],
      { timeoutMs: timeoutMs + 30_000 },
    );
    return JSON.parse(r.stdout) as ProbeResult;
  }

  /**
   * SCTP through raw packets (this kernel may have no SCTP sockets, but its connection
   * tracking and NAT handle SCTP): a receiver in the external namespace waits for one
   * packet, then one INIT is sent from `from` (IPv4 only).
   */
  probeSctp(
    from: LabRole,
    address: string,
    port: number,
    timeoutMs = 20_000,
  ): Promise<ProbeResult> {
    return probeSctp(this, from, address, port, timeoutMs);
  }

  /** Counters and rejected sources of the external server's firewall. */
  async firewall(): Promise<FirewallState> {
    const r = await this.exec("external", ["nft", "-j", "list", "table", "inet", FIREWALL_TABLE]);
    return parseFirewallState(r.stdout);
  }

  /** Zeroes the firewall's counters and forgets the sources it rejected. */
  async resetFirewall(): Promise<void> {
    await this.exec("external", ["nft", "-f", "-"], { input: renderFirewallReset() });
  }

  get records(): readonly DnsRecord[] {
    return this.#records;
  }

  /** Replaces the DNS server's records; answers change at once (dnsmasq re-reads on SIGHUP). */
  async setDnsRecords(records: readonly DnsRecord[]): Promise<void> {
    this.writeHostsFile(records);
    const pid = Number(readFileSync(`${this.dir}/dnsmasq.pid`, "utf8").trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new LabError("lab: dnsmasq is not running");
    process.kill(pid, "SIGHUP");
    await Promise.resolve();
  }

  /** Writes the DNS server's hosts file (world-readable: dnsmasq drops its privileges). */
  writeHostsFile(records: readonly DnsRecord[]): void {
    writeFileSync(`${this.dir}/hosts`, renderHostsFile(records), { mode: 0o644 });
    this.#records = records;
  }

  /** Removes everything the lab created. Safe to call twice. */
  async down(): Promise<void> {
    for (const child of this.#children) child.kill("SIGTERM");
    await destroyLab(this.name, { stateDir: dirname(this.dir), runner: this.#runner });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.down();
  }
}

function dirname(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not empty (other namespaces use it) or already gone
  }
}

/** Builds a lab and starts its servers. On any failure, removes what was built, then throws. */
export async function createLab(options: LabOptions = {}): Promise<Lab> {
  requireRoot("build the lab");
  const env = options.env ?? process.env;
  const name = options.name ?? uniqueLabName();
  const topology = labTopology(name, options);
  const stateDir = options.stateDir ?? DEFAULT_LAB_STATE_DIR;
  const dir = `${stateDir}/${name}`;
  const runner = createCommandRunner({ env, ...(options.trace ? { trace: options.trace } : {}) });
  const unsupported = egressLinkUnsupportedReason(topology.egressLink);
  if (unsupported !== undefined) {
    throw new LabError(
      `lab: Cannot build the lab "${name}" with an ${topology.egressLink} egress interface: ${unsupported}; use --interface macvlan, or a kernel with ipvlan`,
    );
  }
  const taken = (await listNamespaces(runner)).filter((ns) => parseNamespaceName(ns)?.lab === name);
  if (taken.length > 0) {
    throw new LabError(
      `lab: Cannot build the lab "${name}": it already exists (${taken.sort().join(", ")}); run "egress-router lab down --name ${name}" first`,
    );
  }
  const lab = new Lab(topology, dir, runner, env);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const state: LabStateFile = {
      name,
      options: {
        egressLink: topology.egressLink,
        clusterInterface: topology.clusterInterface,
        egressInterface: topology.egressInterface,
      },
      createdAt: new Date().toISOString(),
      servers: options.servers ?? true,
    };
    writeFileSync(`${dir}/lab.json`, `${JSON.stringify(state, null, 2)}\n`);
    for (const step of labBuildSteps(topology)) {
      await runner.run(step.argv, step.input !== undefined ? { input: step.input } : {});
    }
    for (const role of ["client", "router"] as const) {
      const etc = `/etc/netns/${topology.namespaces[role]}`;
      mkdirSync(etc, { recursive: true });
      writeFileSync(`${etc}/resolv.conf`, renderResolvConf(topology));
    }
    if (state.servers) {
      await startServers(lab, options.records ?? defaultDnsRecords(topology));
    }
    return lab;
  } catch (err) {
    await lab.down().catch(() => {});
    if (err instanceof LabError) throw err;
    throw new LabError(
      `lab: Cannot build the lab "${name}": ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/** Opens an existing lab (built by another process, e.g. `lab up`). */
export function openLab(
  name: string,
  options: { stateDir?: string; env?: Env; trace?: (line: string) => void } = {},
): Lab {
  const stateDir = options.stateDir ?? DEFAULT_LAB_STATE_DIR;
  const dir = `${stateDir}/${name}`;
  let state: LabStateFile;
  try {
    state = JSON.parse(readFileSync(`${dir}/lab.json`, "utf8")) as LabStateFile;
  } catch {
    throw new LabError(
      `lab: Cannot find the lab "${name}": no ${dir}/lab.json; run "egress-router lab up --name ${name}"`,
    );
  }
  const env = options.env ?? process.env;
  const runner = createCommandRunner({ env, ...(options.trace ? { trace: options.trace } : {}) });
  return new Lab(labTopology(name, state.options), dir, runner, env);
}

export interface LabSummary {
  readonly name: string;
  /** roles whose namespace exists */
  readonly namespaces: readonly LabRole[];
  /** true when every namespace exists and the state file is there */
  readonly complete: boolean;
  /** built with --ha: a second router pod (ha-lab.ts) */
  readonly secondRouter: boolean;
}

/** Every lab on this host, complete or half-built (from the namespaces and state files). */
export async function listLabs(
  options: { stateDir?: string; env?: Env } = {},
): Promise<LabSummary[]> {
  const stateDir = options.stateDir ?? DEFAULT_LAB_STATE_DIR;
  const runner = createCommandRunner({ env: options.env ?? process.env });
  const byLab = new Map<string, string[]>();
  for (const ns of await listNamespaces(runner)) {
    const parsed = parseNamespaceName(ns);
    if (parsed) byLab.set(parsed.lab, [...(byLab.get(parsed.lab) ?? []), parsed.role]);
  }
  return [...byLab.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, roles]) => ({
      name,
      namespaces: LAB_ROLES.filter((r) => roles.includes(r)),
      complete:
        LAB_ROLES.every((r) => roles.includes(r)) && existsSync(`${stateDir}/${name}/lab.json`),
      secondRouter: roles.includes("routerb"),
    }));
}

/**
 * Removes a lab: ends every process inside its namespaces, deletes the namespaces (their
 * links go with them) and its files. Works on half-built labs; errors are collected and
 * reported together after everything that could be removed was removed.
 */
export async function destroyLab(
  name: string,
  options: { stateDir?: string; runner?: CommandRunner; env?: Env } = {},
): Promise<void> {
  const runner = options.runner ?? createCommandRunner({ env: options.env ?? process.env });
  const stateDir = options.stateDir ?? DEFAULT_LAB_STATE_DIR;
  const errors: string[] = [];
  const present = (await listNamespaces(runner)).filter(
    (ns) => parseNamespaceName(ns)?.lab === name,
  );
  for (const ns of present) {
    try {
      await killNamespaceProcesses(runner, ns);
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
  }
  for (const ns of present) {
    try {
      await runner.run(["ip", "netns", "delete", ns]);
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
  }
  for (const role of [...LAB_ROLES, ...EXTRA_ROLES]) {
    rmSync(`/etc/netns/${namespaceName(name, role)}`, { recursive: true, force: true });
  }
  removeIfEmpty("/etc/netns");
  rmSync(`${stateDir}/${name}`, { recursive: true, force: true });
  if (errors.length > 0) {
    throw new LabError(`lab: Cannot remove all of the lab "${name}": ${errors.join("; ")}`);
  }
}

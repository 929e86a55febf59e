// `egress-router ha`: redirect mode with hot standbys (docs/ha.md).
//
//   egress-router ha run      one replica: keepalived elects the holder of EGRESS_SOURCE
//   egress-router ha config   print the keepalived configuration these settings make
import { hostname } from "node:os";
import { settings } from "../config/catalogue.ts";
import type { SettingKey } from "../config/catalogue.ts";
import { ConfigError } from "../config/config-error.ts";
import type { Env, Flags } from "../config/read-setting.ts";
import { readRouterConfig } from "../config/router-config.ts";
import type { RouterConfig } from "../config/router-config.ts";
import type { HaSettings } from "../ha/ha-settings.ts";
import { readHaSettings } from "../ha/ha-settings.ts";
import { createHaRouter } from "../ha/ha-router.ts";
import type { HaLog, HaLogMessage } from "../ha/ha-log.ts";
import { renderKeepalivedConfig } from "../ha/keepalived-config.ts";
import { createCommandRunner } from "../redirect/command-runner.ts";
import { procSysSettings } from "../redirect/kernel-settings.ts";
import type { RedirectBase } from "../redirect/legacy-mode.ts";
import type { Command } from "./command.ts";
import { UsageError } from "./command.ts";
import { startDaemon } from "./daemon.ts";
import { allSettingKeys, parseCommandArgs, settingFlagHelp } from "./flags.ts";
import { printProblems } from "./print-problems.ts";
import { redirectRequest } from "./redirect-request.ts";

const haKeys = allSettingKeys.filter((k) => settings[k].env.startsWith("EGRESS_HA_"));
const routerKeys: SettingKey[] = [
  "source",
  "gateway",
  "destination",
  "egressInterface",
  "clusterInterface",
  "natBackend",
  "routerDebug",
];
const daemonKeys = allSettingKeys.filter((k) =>
  ["EGRESS_ADMIN_", "EGRESS_DRAIN_", "EGRESS_LOG_", "EGRESS_CONFIG_DIR"].some((p) =>
    settings[k].env.startsWith(p),
  ),
);
const keys = [...new Set([...routerKeys, ...haKeys, ...daemonKeys])];

const help = `Usage: egress-router ha run [options]
       egress-router ha config [options]

Redirect mode with hot standbys. Run two or more replicas with the same settings on the same
egress LAN; keepalived (VRRP) elects one holder. Only the holder has EGRESS_SOURCE on the
egress interface and the NAT rules, and only the holder is ready (/readyz); a standby
translates nothing and drops new connections, which their clients' TCP then sends again to
the holder. When the holder dies, a standby takes the address over in well under a second
and announces it with gratuitous ARP. If the replicas cannot hear each other (split-brain),
an ARP check finds the second holder and the one that came second steps down. Kubernetes:
egress-router manifests --replicas 2. See docs/ha.md.

  run      run one replica until SIGTERM (graceful handover: the peer takes over at once)
  config   print the keepalived configuration these settings make, and exit

Options (each also read from its variable):
${settingFlagHelp(keys)}
`;

function readAll(
  env: Env,
  flags: Flags,
): { router: RouterConfig; ha: HaSettings; base: RedirectBase } | { problems: ConfigError } {
  const { config, problems } = readRouterConfig(env, { ...flags, mode: "legacy" });
  const ha = readHaSettings(env, flags, config?.source);
  const all = [...problems, ...ha.problems];
  let base: RedirectBase | undefined;
  if (config) {
    try {
      // the same plan input as legacy redirect mode: the admin port stays the router's own
      const { backend, ...input } = redirectRequest(config, env, flags, {
        nat: true,
        setupNetwork: true,
        adminServer: true,
      });
      const { rules: _rules, nat: _nat, setupNetwork: _setup, ...fixed } = input;
      // keepalived's own advertisements must leave with their own source address
      base = { ...fixed, backend, keepVrrpSource: true };
    } catch (err) {
      if (err instanceof ConfigError) all.push(...err.problems);
      else throw err;
    }
  }
  if (ha.settings && ha.settings.election !== "keepalived") {
    all.push({
      code: "setting-invalid",
      setting: settings.haElection.env,
      message: `${settings.haElection.env}: Cannot run "ha" with election "${ha.settings.election}": it needs an election engine; set EGRESS_HA_ELECTION=keepalived (a single replica runs the plain redirect mode)`,
    });
  }
  if (all.length > 0 || !config || !ha.settings || !base) return { problems: new ConfigError(all) };
  return { router: config, ha: ha.settings, base };
}

async function run(env: Env, flags: Flags): Promise<number> {
  const read = readAll(env, flags);
  if ("problems" in read) {
    printProblems(read.problems.problems);
    return 1;
  }
  const { ha, base } = read;
  const runner = createCommandRunner({ env });
  let fatal: (err: Error) => void = () => {};
  const fatalPromise = new Promise<Error>((resolve) => (fatal = resolve));
  let log: HaLog = (_l, msg) => process.stderr.write(`${msg}\n`);
  const haRouter = createHaRouter({
    ha,
    base,
    runner,
    kernel: procSysSettings(),
    env,
    routerId: env["HOSTNAME"] ?? hostname(),
    log: (level, msg, f) => log(level, msg, f),
    onFatal: (err) => fatal(err),
  });
  const daemon = await startDaemon(haRouter.definition, {
    env,
    flags,
    fixedSettings: [settings.source, settings.gateway, ...haKeys.map((k) => settings[k])],
    prepare: () => haRouter.prepare(),
    readinessGate: () => haRouter.readinessGate(),
  });
  log = (level, msg, f) => daemon.logger[level]({ event: "ha", ...f }, msg);
  const stopped = new Promise<number>((resolve) => {
    const onStop = (signal: NodeJS.Signals) => {
      daemon.shutdown(signal).then(resolve, () => resolve(1));
    };
    process.once("SIGTERM", onStop);
    process.once("SIGINT", onStop);
    process.on("SIGHUP", () => void daemon.reload("signal", true));
  });
  const outcome = await Promise.race([stopped, fatalPromise]);
  if (typeof outcome === "number") return outcome;
  daemon.logger.fatal(
    { event: "ha", error: outcome.message },
    "high availability failed" satisfies HaLogMessage,
  );
  await daemon.shutdown("fatal");
  process.stderr.write(`${outcome.message}\n`);
  return 1;
}

export const haCommand: Command = {
  name: "ha",
  summary: "redirect mode with hot standbys: keepalived elects the holder of the source IP",
  help,
  async run(args, env) {
    const [sub, ...rest] = args;
    if (sub === "--help" || sub === "-h") {
      process.stdout.write(help);
      return 0;
    }
    if (sub !== "run" && sub !== "config")
      throw new UsageError(
        `egress-router ha: Cannot run "${sub ?? ""}": use "ha run" or "ha config"`,
      );
    const { flags } = parseCommandArgs(`ha ${sub}`, rest, keys);
    if (sub === "run") return run(env, flags);
    const read = readAll(env, flags);
    if ("problems" in read) {
      printProblems(read.problems.problems);
      return 1;
    }
    process.stdout.write(
      renderKeepalivedConfig({
        ha: read.ha,
        source: read.router.source,
        egressInterface: read.router.egressInterface,
        clusterInterface: read.router.clusterInterface,
        routerId: env["HOSTNAME"] ?? hostname(),
        fifo: `${read.ha.runDir}/keepalived.fifo`,
        faultFile: `${read.ha.runDir}/fault`,
      }),
    );
    return 0;
  },
};

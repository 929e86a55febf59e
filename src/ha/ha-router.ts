// Redirect mode with hot standbys: every replica has the rules compiled and the network set
// up, only the elected holder has the source address and the NAT rules, and only the holder
// is ready. Wired into the daemon host as a ModeDefinition plus a readiness gate.
import { writeFileSync } from "node:fs";
import type { RedirectRule, SourceAddress } from "../config/types.ts";
import { ConfigError } from "../config/config-error.ts";
import {
  checkRedirectFamilies,
  formatRedirectRule,
  parseRedirectRules,
} from "../config/redirect-rules.ts";
import type { Env } from "../config/read-setting.ts";
import type { CommandRunner } from "../redirect/command-runner.ts";
import type { ModeDefinition, Service, ServiceStatus } from "../observe/service.ts";
import type { Election, RoleChange } from "./election.ts";
import type { GatewayCheck } from "./gateway-check.ts";
import { startGatewayCheck } from "./gateway-check.ts";
import { createNftHaNat } from "./ha-nat.ts";
import type { HaSettings } from "./ha-settings.ts";
import type { HeldAddress, Transition } from "./holder.ts";
import { Holder } from "./holder.ts";
import { createKeepalivedElection } from "./keepalived-election.ts";

export type HaLog = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  fields?: object,
) => void;

export interface HaRouterOptions {
  readonly ha: HaSettings;
  readonly source: SourceAddress;
  readonly gateway: string;
  readonly egressInterface: string;
  readonly clusterInterface: string;
  readonly runner: CommandRunner;
  readonly env: Env;
  readonly routerId: string;
  readonly log: HaLog;
  readonly onFatal: (err: Error) => void;
  readonly onTransition?: (t: Transition) => void;
}

export interface HaRouter {
  readonly definition: ModeDefinition<readonly RedirectRule[]>;
  /** reasons not to be ready (empty: holding) */
  readinessGate(): readonly string[];
  /** network set-up every replica does: egress link up, routes via the gateway, forwarding */
  prepare(): Promise<void>;
  readonly holder: () => Holder | undefined;
}

/** Network set-up shared by holder and standbys (no address: that moves with the role). */
export async function prepareHaNetwork(
  runner: CommandRunner,
  egress: string,
  gateway: string,
  family: 4 | 6,
): Promise<void> {
  const f = family === 6 ? "-6" : "-4";
  await runner.run(["ip", "link", "set", egress, "up"]);
  await runner.run(["ip", f, "route", "replace", gateway, "dev", egress]);
  await runner.run(["ip", f, "route", "replace", "default", "via", gateway, "dev", egress]);
  const key =
    family === 6 ? "/proc/sys/net/ipv6/conf/all/forwarding" : "/proc/sys/net/ipv4/ip_forward";
  writeFileSync(key, "1\n");
}

export function createHaRouter(o: HaRouterOptions): HaRouter {
  let holder: Holder | undefined;
  let election: Election | undefined;
  let gatewayCheck: GatewayCheck | undefined;
  const addresses: HeldAddress[] = [{ address: o.source, dev: o.egressInterface, side: "egress" }];
  if (o.ha.clusterAddress)
    addresses.push({ address: o.ha.clusterAddress, dev: o.clusterInterface, side: "cluster" });
  const ifaces = { cluster: o.clusterInterface, egress: o.egressInterface };

  const compile = (text: string): readonly RedirectRule[] => {
    const parsed = parseRedirectRules(text);
    const problems = [...parsed.problems, ...checkRedirectFamilies(o.source, parsed.rules)];
    if (problems.length > 0) throw new ConfigError(problems);
    return parsed.rules;
  };

  const create = (rules: readonly RedirectRule[]): Service<readonly RedirectRule[]> => {
    const nat = createNftHaNat(o.runner, o.source, rules, ifaces);
    if (o.ha.election !== "keepalived") {
      throw new Error("createHaRouter: EGRESS_HA_ELECTION=none runs the plain redirect mode");
    }
    election = createKeepalivedElection({
      plan: {
        ha: o.ha,
        source: o.source,
        egressInterface: o.egressInterface,
        clusterInterface: o.clusterInterface,
        routerId: o.routerId,
      },
      runDir: o.ha.runDir,
      env: o.env,
      log: o.log,
      onFatal: o.onFatal,
    });
    const e = election;
    const h = new Holder({
      runner: o.runner,
      election: e,
      addresses,
      nat,
      leaseSeconds: o.ha.addressLeaseSeconds,
      log: o.log,
      ...(o.onTransition ? { onTransition: o.onTransition } : {}),
    });
    holder = h;
    return {
      async start() {
        // whatever a crashed predecessor left in this network namespace goes first
        await h
          .release()
          .catch((err: unknown) =>
            o.log("warn", "start-up clean-up incomplete", { error: String(err) }),
          );
        await e.start((c: RoleChange) => h.onRole(c));
        if (o.ha.gatewayCheckSeconds > 0 && o.source.family === 4) {
          gatewayCheck = startGatewayCheck({
            runner: o.runner,
            egressInterface: o.egressInterface,
            gateway: o.gateway,
            intervalMs: o.ha.gatewayCheckSeconds * 1000,
            onChange: (reachable, detail) => {
              o.log(reachable ? "info" : "error", reachable ? "gateway back" : "gateway gone", {
                gateway: o.gateway,
                detail,
              });
              e.setFault("gateway-unreachable", !reachable).catch((err: unknown) =>
                o.log("error", "cannot change the fault state", { error: String(err) }),
              );
            },
          });
        }
      },
      async apply(next) {
        nat.prepare(next);
        await h.reinstallNat();
      },
      async stop() {
        gatewayCheck?.stop();
        // no new connection here from now on: readiness false, cluster-side address out
        await h
          .beginHandover()
          .catch((err: unknown) =>
            o.log("warn", "cannot remove the cluster-side address", { error: String(err) }),
          );
        // keepalived gives the addresses up and sends priority 0: the peer takes over now
        await e.stop();
        await h.release();
      },
      status(): ServiceStatus {
        return {
          mode: "redirect",
          listeners: [],
          activeConnections: 0,
          rules: rules.map((r) => ({ line: r.line, text: formatRedirectRule(r), hits: 0 })),
          ha: { ...h.status(), election: e.status(), gatewayReachable: gatewayCheck?.reachable },
        };
      },
    };
  };

  return {
    definition: { mode: "redirect-ha", rulesSetting: "EGRESS_DESTINATION", compile, create },
    readinessGate: () => holder?.notReadyReasons() ?? ["election not started"],
    prepare: async () => {
      await prepareHaNetwork(o.runner, o.egressInterface, o.gateway, o.source.family);
      if (o.ha.clusterAddress?.family === 6) {
        // the kernel announces an IPv6 cluster-side address itself when the holder adds it
        writeFileSync(`/proc/sys/net/ipv6/conf/${o.clusterInterface}/ndisc_notify`, "1\n");
      }
    },
    holder: () => holder,
  };
}

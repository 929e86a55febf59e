// Redirect mode with hot standbys: every replica has the rules compiled and the network set
// up, only the elected holder has the source address and the NAT rules, and only the holder
// is ready. Wired into the daemon host as a ModeDefinition plus a readiness gate. The NAT
// rules and the network set-up are redirect mode's own (src/redirect/): the same plan, the
// same renderers and applier; a standby loads the standby rules of the same plan.
import { writeFileSync } from "node:fs";
import type { SourceAddress } from "../config/types.ts";
import type { Env } from "../config/read-setting.ts";
import { formatRedirectRule } from "../config/redirect-rules.ts";
import type { PreparedNat } from "../redirect/apply-nat.ts";
import { prepareNat } from "../redirect/apply-nat.ts";
import { restoreRoutes, runNetworkSetupWithoutAddress } from "../redirect/apply-network.ts";
import type { CommandRunner } from "../redirect/command-runner.ts";
import type { KernelSettings } from "../redirect/kernel-settings.ts";
import type { CompiledRedirect, RedirectBase } from "../redirect/legacy-mode.ts";
import { HITS_REFRESH_MS, compileRedirect } from "../redirect/legacy-mode.ts";
import type { NetworkPlan } from "../redirect/plan.ts";
import { planRedirect } from "../redirect/plan.ts";
import { readRuleHits } from "../redirect/rule-hits.ts";
import { publishHa, publishRedirect } from "../observe/events.ts";
import type { ModeDefinition, Service, ServiceStatus } from "../observe/service.ts";
import type { Election, RoleChange } from "./election.ts";
import type { GatewayCheck } from "./gateway-check.ts";
import { startGatewayCheck } from "./gateway-check.ts";
import type { HaLog } from "./ha-log.ts";
import type { HaSettings } from "./ha-settings.ts";
import type { HeldAddress, HolderKernel, Transition } from "./holder.ts";
import { Holder } from "./holder.ts";
import { createKeepalivedElection } from "./keepalived-election.ts";
import type { SplitBrainGuard } from "./split-brain.ts";
import { startSplitBrainGuard } from "./split-brain.ts";

export interface HaRouterOptions {
  readonly ha: HaSettings;
  /** source, gateway, interfaces, the admin port, the NAT backend: fixed while running */
  readonly base: RedirectBase;
  readonly runner: CommandRunner;
  readonly kernel: KernelSettings;
  readonly env: Env;
  readonly routerId: string;
  readonly log: HaLog;
  readonly onFatal: (err: Error) => void;
  readonly onTransition?: (t: Transition) => void;
}

export interface HaRouter {
  readonly definition: ModeDefinition<CompiledRedirect>;
  /** reasons not to be ready (empty: holding) */
  readinessGate(): readonly string[];
  /** network set-up every replica does: egress link up, routes via the gateway, forwarding */
  prepare(): Promise<void>;
  readonly holder: () => Holder | undefined;
}

/** The network part of redirect mode's plan for these settings (no rules needed). */
function networkPlan(base: RedirectBase): NetworkPlan {
  return planRedirect({ ...base, rules: [], nat: true }).network;
}

export function createHaRouter(o: HaRouterOptions): HaRouter {
  const { base, runner } = o;
  let holder: Holder | undefined;
  let gatewayCheck: GatewayCheck | undefined;
  let guard: SplitBrainGuard | undefined;
  const source: SourceAddress = base.source;
  const addresses: HeldAddress[] = [{ address: source, dev: base.egressInterface, side: "egress" }];
  if (o.ha.clusterAddress)
    addresses.push({ address: o.ha.clusterAddress, dev: base.clusterInterface, side: "cluster" });
  const network = networkPlan(base);

  const create = (initial: CompiledRedirect): Service<CompiledRedirect> => {
    if (o.ha.election !== "keepalived") {
      throw new Error("createHaRouter: EGRESS_HA_ELECTION=none runs the plain redirect mode");
    }
    let current = initial;
    let nat: PreparedNat = prepareNat(initial.nat, base.backend);
    let hits = new Map<number, number>();
    const kernel: HolderKernel = {
      restoreRoutes: () => restoreRoutes(network, runner),
      installNat: () => nat.install(runner),
      standBy: () => nat.standBy(runner),
    };
    const e: Election = createKeepalivedElection({
      plan: {
        ha: o.ha,
        source,
        egressInterface: base.egressInterface,
        clusterInterface: base.clusterInterface,
        routerId: o.routerId,
      },
      runDir: o.ha.runDir,
      env: o.env,
      log: o.log,
      onFatal: o.onFatal,
    });
    const h = new Holder({
      runner,
      election: e,
      addresses,
      kernel,
      leaseSeconds: o.ha.addressLeaseSeconds,
      gateway: base.gateway,
      log: o.log,
      onTransition: (t) => {
        const holding = h.ready;
        publishHa({
          kind: "role",
          role: t.to,
          holding,
          takeoverSeconds: holding ? t.ms / 1000 : undefined,
        });
        if (holding) guard?.tookOver();
        o.onTransition?.(t);
      },
    });
    holder = h;
    let hitsTimer: NodeJS.Timeout | undefined;
    const refreshHits = async () => {
      if (!h.ready) return;
      try {
        hits = await readRuleHits(current.nat, base.backend, runner);
      } catch {
        // counters are for the status page only; the next refresh tries again
      }
    };
    return {
      async start() {
        // whatever a crashed predecessor left in this network namespace goes first; the
        // standby rules go in (nothing translated, new connections dropped)
        await h
          .release()
          .catch((err: unknown) =>
            o.log("warn", "start-up clean-up incomplete", { error: String(err) }),
          );
        for (const w of initial.warnings) publishRedirect({ kind: "warning", message: w });
        await e.start((c: RoleChange) => h.onRole(c));
        if (o.ha.gatewayCheckSeconds > 0) {
          gatewayCheck = startGatewayCheck({
            runner,
            egressInterface: base.egressInterface,
            gateway: base.gateway,
            intervalMs: o.ha.gatewayCheckSeconds * 1000,
            onChange: (reachable, detail) => {
              o.log(reachable ? "info" : "error", reachable ? "gateway back" : "gateway gone", {
                gateway: base.gateway,
                detail,
              });
              e.setFault("gateway-unreachable", !reachable).catch((err: unknown) =>
                o.log("error", "cannot change the fault state", { error: String(err) }),
              );
            },
          });
        }
        if (o.ha.duplicateCheckSeconds > 0) {
          guard = await startSplitBrainGuard({
            runner,
            egressInterface: base.egressInterface,
            address: source.address,
            vrid: o.ha.vrid,
            intervalMs: o.ha.duplicateCheckSeconds * 1000,
            confirmMs: o.ha.addressLeaseSeconds * 1000 + 2000,
            isHolder: () => h.ready,
            standDown: (on) => e.setFault("duplicate-address", on),
            announce: () => h.announce(),
            log: o.log,
            onDetected: (detected) => publishHa({ kind: "split-brain", detected }),
          });
        }
        hitsTimer = setInterval(() => void refreshHits(), HITS_REFRESH_MS);
        hitsTimer.unref();
      },
      async apply(next) {
        for (const w of next.warnings) publishRedirect({ kind: "warning", message: w });
        current = next;
        nat = prepareNat(next.nat, base.backend);
        await h.reinstallNat();
      },
      async stop() {
        clearInterval(hitsTimer);
        gatewayCheck?.stop();
        // the check may be waiting for an ARP or NDP answer: the handover does not wait for it
        const guardStopped = guard?.stop();
        // nothing is translated here from now on: readiness false, standby rules in,
        // cluster-side address out
        await h
          .beginHandover()
          .catch((err: unknown) => o.log("warn", "handover incomplete", { error: String(err) }));
        // keepalived gives the addresses up and sends priority 0: the peer takes over now
        await e.stop();
        await h.release();
        await guardStopped;
      },
      status(): ServiceStatus {
        return {
          mode: "redirect",
          listeners: [],
          activeConnections: 0,
          rules: current.rules.map((r) => ({
            line: r.line,
            text: formatRedirectRule(r),
            hits: hits.get(r.line) ?? 0,
          })),
          backend: base.backend,
          source: source.address,
          clusterInterface: base.clusterInterface,
          egressInterface: base.egressInterface,
          otherPorts: current.nat.refuseUnmapped ? "refused" : "fallback",
          ha: {
            ...h.status(),
            election: e.status(),
            gatewayReachable: gatewayCheck?.reachable,
            splitBrain: guard?.status(),
          },
        };
      },
    };
  };

  return {
    definition: {
      mode: "redirect-ha",
      rulesSetting: base.rulesSetting ?? "EGRESS_DESTINATION",
      compile: (text) => compileRedirect(base, text),
      create,
    },
    readinessGate: () => holder?.notReadyReasons() ?? ["election not started"],
    prepare: async () => {
      const changes = await runNetworkSetupWithoutAddress(network, { runner, kernel: o.kernel });
      for (const c of changes) publishRedirect({ kind: "change", message: c });
      if (o.ha.clusterAddress?.family === 6) {
        // the kernel announces an IPv6 cluster-side address itself when the holder adds it
        writeFileSync(`/proc/sys/net/ipv6/conf/${base.clusterInterface}/ndisc_notify`, "1\n");
      }
    },
    holder: () => holder,
  };
}

// Redirect mode end to end: plan, network setup, NAT, in that order (OpenShift's order). The
// router-image modes and the `setup` / `redirect` commands all come through here.
import type { Env } from "../config/read-setting.ts";
import type { CommandRunner } from "./command-runner.ts";
import { createCommandRunner, formatArgv } from "./command-runner.ts";
import type { NatBackend } from "./apply-nat.ts";
import { applyNat, forwardGuardCommand, natCommand } from "./apply-nat.ts";
import type { NetworkSetupResult } from "./apply-network.ts";
import { networkCommands, runNetworkSetup } from "./apply-network.ts";
import type { KernelSettings } from "./kernel-settings.ts";
import { procSysSettings } from "./kernel-settings.ts";
import type { Plan, PlanInput } from "./plan.ts";
import { planRedirect, sysctlName } from "./plan.ts";

export interface RedirectRequest extends PlanInput {
  readonly backend: NatBackend;
  /** false: leave the network alone, load the NAT rules only */
  readonly setupNetwork: boolean;
}

export interface RedirectDeps {
  readonly runner: CommandRunner;
  readonly kernel: KernelSettings;
  /** one line per change, for the operator */
  readonly log: (line: string) => void;
  readonly announceAgainMs?: number;
}

export interface RedirectResult {
  readonly plan: Plan;
  /** undefined when the network was left alone */
  readonly network: NetworkSetupResult | undefined;
}

/** The real dependencies: commands from PATH or the sbin/bin directories, /proc/sys. */
export function systemDeps(env: Env, debug: boolean, log: (line: string) => void): RedirectDeps {
  const trace = debug ? (line: string) => process.stderr.write(`${line}\n`) : undefined;
  return {
    runner: createCommandRunner({ env, ...(trace ? { trace } : {}) }),
    kernel: procSysSettings(),
    log,
  };
}

/** Plans and carries out redirect mode (or network setup alone when `nat` is false). */
export async function applyRedirect(
  request: RedirectRequest,
  deps: RedirectDeps,
): Promise<RedirectResult> {
  const plan = planRedirect(request);
  for (const w of plan.warnings) deps.log(`warning: ${w}`);
  let network: NetworkSetupResult | undefined;
  if (request.setupNetwork) {
    network = await runNetworkSetup(plan.network, {
      runner: deps.runner,
      kernel: deps.kernel,
      log: deps.log,
      ...(deps.announceAgainMs !== undefined ? { announceAgainMs: deps.announceAgainMs } : {}),
    });
    if (network.alreadySetUp) {
      deps.log(
        `network already set up (${plan.network.source.address} on ${plan.network.egressInterface}, default via ${plan.network.gateway}); left as it is`,
      );
    }
  }
  if (!plan.nat && request.setupNetwork) {
    const { argv, input } = forwardGuardCommand(plan.network.family, request.backend);
    await deps.runner.run(argv, { input });
    deps.log(`forwarding refused (${request.backend}): a proxy pod is nobody's gateway`);
  }
  if (plan.nat) {
    await applyNat(plan.nat, request.backend, deps.runner);
    const n = plan.nat.dnat.length;
    deps.log(
      `NAT loaded (${request.backend}): ${n} rule${n === 1 ? "" : "s"}, SNAT to ${plan.nat.source} on ${plan.nat.egressInterface}${plan.nat.refuseUnmapped ? ", other ports refused" : ""}`,
    );
  }
  return { plan, network };
}

/** What `--dry-run` prints: every command and kernel setting, and the ruleset, in order. */
export function describeRedirect(request: RedirectRequest): string {
  const plan = planRedirect(request);
  const out: string[] = [];
  for (const w of plan.warnings) out.push(`# warning: ${w}`);
  if (request.setupNetwork) {
    const n = plan.network;
    const cmd = networkCommands(n);
    out.push(`# network setup (skipped when all of it is in place already)`);
    for (const s of n.sysctls) out.push(`sysctl ${sysctlName(s)}=${s.value}   # ${s.why}`);
    out.push(formatArgv(cmd.address), formatArgv(cmd.up));
    if (n.family === 6) out.push("# wait for duplicate address detection to finish");
    out.push(formatArgv(cmd.hostRoute), formatArgv(cmd.defaultRoute));
    out.push(
      cmd.announce
        ? `${formatArgv(cmd.announce)}   # now, and again about 2 s later`
        : "# the kernel announces the address (unsolicited neighbour advertisement)",
    );
  }
  if (!plan.nat && request.setupNetwork) {
    const { argv, input } = forwardGuardCommand(plan.network.family, request.backend);
    out.push(`# nothing is forwarded: ${formatArgv(argv)} <<EOF`);
    out.push(input.trimEnd(), "EOF");
  }
  if (plan.nat) {
    const { argv, input } = natCommand(plan.nat, request.backend);
    out.push(`# NAT, one atomic load: ${formatArgv(argv)} <<EOF`);
    out.push(input.trimEnd(), "EOF");
  }
  return `${out.join("\n")}\n`;
}

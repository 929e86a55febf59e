// Loads a NatPlan into the kernel in one atomic step: `nft -f -` (one transaction) or
// `iptables-restore` (each table replaced whole). If the kernel refuses the new rules, the
// old ones stay exactly as they were and the error says why.
import type { CommandRunner } from "./command-runner.ts";
import type { NatPlan } from "./plan.ts";
import {
  iptablesRestoreProgram,
  renderIptables,
  renderIptablesForwardGuard,
  renderIptablesStandby,
} from "./render-iptables.ts";
import {
  renderNft,
  renderNftForwardGuard,
  renderNftRemoval,
  renderNftStandby,
} from "./render-nft.ts";

export type NatBackend = "nft" | "iptables";
export const NAT_BACKENDS: readonly NatBackend[] = Object.freeze(["nft", "iptables"]);

/** The command and its stdin that load the plan with a backend. */
export function natCommand(plan: NatPlan, backend: NatBackend): { argv: string[]; input: string } {
  switch (backend) {
    case "nft":
      return { argv: ["nft", "-f", "-"], input: renderNft(plan) };
    case "iptables":
      // -w: wait for the xtables lock instead of failing when another tool holds it
      return { argv: [iptablesRestoreProgram(plan), "-w", "5"], input: renderIptables(plan) };
  }
}

/**
 * The command that turns a replica of an active/standby router into a standby: nothing
 * translated, new cluster-side connections dropped so their retries reach the holder
 * (renderNftStandby).
 */
export function standbyCommand(
  plan: NatPlan,
  backend: NatBackend,
): { argv: string[]; input: string } {
  switch (backend) {
    case "nft":
      return { argv: ["nft", "-f", "-"], input: renderNftStandby(plan) };
    case "iptables":
      return {
        argv: [iptablesRestoreProgram(plan), "-w", "5"],
        input: renderIptablesStandby(plan),
      };
  }
}

/**
 * A NAT plan rendered ahead of time, for a replica that must switch between holder and
 * standby at once (a takeover): both commands are ready, each one atomic step.
 */
export interface PreparedNat {
  readonly plan: NatPlan;
  readonly backend: NatBackend;
  /** the whole ruleset: translate and forward (the holder) */
  install(runner: CommandRunner): Promise<void>;
  /** the standby rules: translate nothing, drop new cluster-side connections */
  standBy(runner: CommandRunner): Promise<void>;
}

export function prepareNat(plan: NatPlan, backend: NatBackend): PreparedNat {
  const holder = natCommand(plan, backend);
  const standby = standbyCommand(plan, backend);
  return Object.freeze({
    plan,
    backend,
    async install(runner: CommandRunner) {
      await runner.run(holder.argv, { input: holder.input });
    },
    async standBy(runner: CommandRunner) {
      await runner.run(standby.argv, { input: standby.input });
    },
  });
}

/** The command that loads the forwarding guard of the network-only modes. */
export function forwardGuardCommand(
  family: NatPlan["family"],
  backend: NatBackend,
): { argv: string[]; input: string } {
  switch (backend) {
    case "nft":
      return { argv: ["nft", "-f", "-"], input: renderNftForwardGuard({ family }) };
    case "iptables":
      return {
        argv: [iptablesRestoreProgram({ family }), "-w", "5"],
        input: renderIptablesForwardGuard({ family }),
      };
  }
}

/** Loads the plan; rejects with a CommandError (command, exit code, stderr) on failure. */
export async function applyNat(
  plan: NatPlan,
  backend: NatBackend,
  runner: CommandRunner,
): Promise<void> {
  const { argv, input } = natCommand(plan, backend);
  await runner.run(argv, { input });
}

/** Removes the router's NAT and filter rules for a family (for `redirect --remove`). */
export async function removeNat(
  family: NatPlan["family"],
  backend: NatBackend,
  runner: CommandRunner,
): Promise<void> {
  switch (backend) {
    case "nft":
      await runner.run(["nft", "-f", "-"], { input: renderNftRemoval({ family }) });
      return;
    case "iptables": {
      // restoring empty tables flushes them (the built-in chains stay, empty)
      const input = ["*nat", "COMMIT", "*filter", "COMMIT", ""].join("\n");
      await runner.run([iptablesRestoreProgram({ family }), "-w", "5"], { input });
      return;
    }
  }
}

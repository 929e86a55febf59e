// The NAT rules a holder installs on takeover and removes when it lets go: OpenShift's
// DNAT-per-port and SNAT-to-the-source rules, in one atomic `nft -f -` transaction each way.
// The text is prepared when the rules are compiled (at start and on reload), so a takeover
// only hands it to nft. When the redirect applier (plan/apply) lands, HaNat is the seam
// it plugs into.
import type { RedirectRule, SourceAddress } from "../config/types.ts";
import type { CommandRunner } from "../redirect/command-runner.ts";
import { renderUnitTestRules } from "../redirect/render-unit-test.ts";

export interface HaNat {
  /** Installs the prepared rules (replacing whatever the chains held). */
  install(): Promise<void>;
  /** Empties the chains: this replica no longer translates anything. */
  remove(): Promise<void>;
  /** Prepares new rules (reload); a holder installs them at once. */
  prepare(rules: readonly RedirectRule[]): void;
}

export interface NatInterfaces {
  readonly cluster: string;
  readonly egress: string;
}

function tableOf(source: SourceAddress): string {
  return source.family === 6 ? "ip6 nat" : "ip nat";
}

function chains(table: string): string {
  return [
    `table ${table} {`,
    "\tchain prerouting {",
    "\t\ttype nat hook prerouting priority dstnat; policy accept;",
    "\t}",
    "\tchain postrouting {",
    "\t\ttype nat hook postrouting priority srcnat; policy accept;",
    "\t}",
    "}",
    `flush chain ${table} prerouting`,
    `flush chain ${table} postrouting`,
  ].join("\n");
}

/** The install transaction: chains (created if missing), flushed, refilled. Pure. */
export function renderHaNatInstall(
  source: SourceAddress,
  rules: readonly RedirectRule[],
  ifaces: NatInterfaces,
): string {
  return `${chains(tableOf(source))}\n${renderUnitTestRules(source, rules, ifaces)}`;
}

/** The remove transaction: the chains exist and are empty afterwards. Pure. */
export function renderHaNatRemove(source: SourceAddress): string {
  return `${chains(tableOf(source))}\n`;
}

export function createNftHaNat(
  runner: CommandRunner,
  source: SourceAddress,
  rules: readonly RedirectRule[],
  ifaces: NatInterfaces,
): HaNat {
  let install = renderHaNatInstall(source, rules, ifaces);
  const remove = renderHaNatRemove(source);
  return {
    async install() {
      await runner.run(["nft", "-f", "-"], { input: install });
    },
    async remove() {
      await runner.run(["nft", "-f", "-"], { input: remove });
    },
    prepare(next) {
      install = renderHaNatInstall(source, next, ifaces);
    },
  };
}

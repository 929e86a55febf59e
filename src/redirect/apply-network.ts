// Network setup (spec/openshift-compat.md §1): the source address on the egress interface,
// a host route to the gateway, the default route via the gateway, gratuitous ARP (IPv6: an
// unsolicited neighbour advertisement), and the kernel settings the plan asks for.
//
// Idempotent. OpenShift skipped everything when the route to the gateway already went
// through the egress interface (a restarted pod); we skip only when the whole setup is in
// place, and otherwise complete it with `replace` commands, so a setup that died half-way
// is repaired on the next run instead of being taken for done.
import type { CommandRunner } from "./command-runner.ts";
import type { KernelSettings } from "./kernel-settings.ts";
import type { NetworkPlan } from "./plan.ts";
import { sysctlName } from "./plan.ts";

export interface NetworkSetupOptions {
  readonly runner: CommandRunner;
  readonly kernel: KernelSettings;
  /** one line per thing done, for the operator */
  readonly log?: (line: string) => void;
  /** delay before the second announcement; OpenShift used about 2 s */
  readonly announceAgainMs?: number;
  /** how long IPv6 duplicate address detection may take */
  readonly dadTimeoutMs?: number;
}

export interface NetworkSetupResult {
  /** true: everything was already in place (a restart); nothing was changed or announced */
  readonly alreadySetUp: boolean;
  /** what was changed, one line each */
  readonly changes: readonly string[];
  /** resolves once the second announcement went out (at once when none is due); never rejects */
  readonly announced: Promise<void>;
}

interface LinkJson {
  readonly flags?: readonly string[];
  readonly addr_info?: readonly {
    readonly local?: string;
    readonly prefixlen?: number;
    readonly tentative?: boolean;
    readonly dadfailed?: boolean;
  }[];
}

interface RouteJson {
  readonly dst?: string;
  readonly dev?: string;
  readonly gateway?: string;
}

function parseJson<T>(text: string): T[] {
  const t = text.trim();
  return t === "" ? [] : (JSON.parse(t) as T[]);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Reads the egress interface; throws a CommandError naming the interface if it is missing. */
async function readLink(plan: NetworkPlan, runner: CommandRunner): Promise<LinkJson> {
  const r = await runner.run(["ip", "-j", "address", "show", "dev", plan.egressInterface]);
  return parseJson<LinkJson>(r.stdout)[0] ?? {};
}

function hasSource(plan: NetworkPlan, link: LinkJson): boolean {
  return (link.addr_info ?? []).some(
    (a) => a.local === plan.source.address && a.prefixlen === plan.source.prefixLength,
  );
}

/** Is everything in place: link up, address, gateway route and default route via egress? */
async function isSetUp(plan: NetworkPlan, runner: CommandRunner, link: LinkJson): Promise<boolean> {
  const fam = `-${plan.family}`;
  const viaGateway = await runner.run(["ip", "-j", fam, "route", "get", plan.gateway], {
    okCodes: [0, 2], // 2: no route at all (network unreachable)
  });
  const gatewayRoute =
    viaGateway.code === 0 ? parseJson<RouteJson>(viaGateway.stdout)[0] : undefined;
  if (gatewayRoute?.dev !== plan.egressInterface) return false;
  const defaults = await runner.run(["ip", "-j", fam, "route", "show", "default"]);
  const defaultOk = parseJson<RouteJson>(defaults.stdout).some(
    (r) => r.gateway === plan.gateway && r.dev === plan.egressInterface,
  );
  return defaultOk && (link.flags ?? []).includes("UP") && hasSource(plan, link);
}

/** Waits until the kernel finished duplicate address detection for the IPv6 source. */
async function waitForDad(
  plan: NetworkPlan,
  runner: CommandRunner,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const link = await readLink(plan, runner);
    const a = (link.addr_info ?? []).find((x) => x.local === plan.source.address);
    if (a?.dadfailed) {
      throw new Error(
        `EGRESS_SOURCE: Cannot use "${plan.source.address}": another host on the egress network already has it (duplicate address detection failed); reserve an unused address for the router`,
      );
    }
    if (a && !a.tentative) return;
    if (Date.now() > deadline) {
      throw new Error(
        `EGRESS_SOURCE: Cannot use "${plan.source.address}": still tentative after ${timeoutMs} ms of duplicate address detection; check that ${plan.egressInterface} is connected`,
      );
    }
    await sleep(100);
  }
}

/** The commands that change the network, in order (also what `--dry-run` prints). */
export function networkCommands(plan: NetworkPlan): {
  readonly address: readonly string[];
  readonly up: readonly string[];
  readonly hostRoute: readonly string[];
  readonly defaultRoute: readonly string[];
  /** IPv4 only; IPv6 is announced by the kernel (ndisc_notify) */
  readonly announce: readonly string[] | undefined;
} {
  const fam = `-${plan.family}`;
  const dev = plan.egressInterface;
  return {
    address: [
      "ip",
      fam,
      "address",
      "replace",
      `${plan.source.address}/${plan.source.prefixLength}`,
      "dev",
      dev,
    ],
    up: ["ip", "link", "set", "dev", dev, "up"],
    hostRoute: [
      "ip",
      fam,
      "route",
      "replace",
      `${plan.gateway}/${plan.family === 4 ? 32 : 128}`,
      "dev",
      dev,
    ],
    defaultRoute: ["ip", fam, "route", "replace", "default", "via", plan.gateway, "dev", dev],
    // -U: unsolicited ARP (sender and target are the source address), so neighbours that
    // cached the address with another MAC (the pod ran on another node) update their caches.
    announce:
      plan.family === 4
        ? ["arping", "-q", "-U", "-c", "1", "-I", dev, plan.source.address]
        : undefined,
  };
}

async function announce(argv: readonly string[], runner: CommandRunner): Promise<void> {
  // Exit code 1 only means nobody answered, which is normal for an announcement.
  await runner.run(argv, { okCodes: [0, 1] });
}

/** Carries out the network part of a plan. */
export async function runNetworkSetup(
  plan: NetworkPlan,
  options: NetworkSetupOptions,
): Promise<NetworkSetupResult> {
  const { runner, kernel } = options;
  const log = options.log ?? (() => {});
  const changes: string[] = [];
  const change = (line: string) => {
    changes.push(line);
    log(line);
  };

  const link = await readLink(plan, runner);
  for (const s of plan.sysctls) {
    const current = await kernel.read(s);
    if (current !== s.value) {
      await kernel.write(s, s.value);
      change(`set ${sysctlName(s)}=${s.value} (was ${current ?? "unset"}): ${s.why}`);
    }
  }
  if (await isSetUp(plan, runner, link)) {
    return { alreadySetUp: true, changes, announced: Promise.resolve() };
  }

  const cmd = networkCommands(plan);
  const dev = plan.egressInterface;
  const cidr = `${plan.source.address}/${plan.source.prefixLength}`;
  if (!hasSource(plan, link)) {
    await runner.run(cmd.address);
    change(`added ${cidr} to ${dev}`);
  }
  let flags = link.flags ?? [];
  if (!flags.includes("UP")) {
    await runner.run(cmd.up);
    change(`brought ${dev} up`);
    // ipvlan sets NOARP (L3, L3S modes) only when the interface comes up: read it again
    flags = (await readLink(plan, runner)).flags ?? [];
  }
  if (plan.family === 6) {
    // The address is unusable (and the kernel's announcement unsent) until DAD is over.
    await waitForDad(plan, runner, options.dadTimeoutMs ?? 10_000);
  }
  await runner.run(cmd.hostRoute);
  await runner.run(cmd.defaultRoute);
  change(`routes: ${plan.gateway} on ${dev}, default via ${plan.gateway} on ${dev}`);

  if (flags.includes("NOARP")) {
    // ipvlan in L3 or L3S mode: the interface has no ARP or neighbour discovery (arping
    // refuses it), and the node does not answer the LAN's ARP for an address in the pod. The
    // LAN must route the source address to the node instead (docs/networks.md).
    change(
      `not announced: ${dev} does not use ARP or neighbour discovery (ipvlan L3 mode); the LAN must route ${plan.source.address} to this node`,
    );
    return { alreadySetUp: false, changes, announced: Promise.resolve() };
  }
  const arp = cmd.announce;
  if (arp === undefined) {
    // The kernel announced the address when DAD completed (ndisc_notify=1, in the plan).
    change(`announced ${plan.source.address} (unsolicited neighbour advertisement, by the kernel)`);
    return { alreadySetUp: false, changes, announced: Promise.resolve() };
  }
  await announce(arp, runner);
  change(`announced ${plan.source.address} on ${dev} (gratuitous ARP)`);
  const again = options.announceAgainMs ?? 2000;
  // Never rejects: the address works already; a lost second announcement is worth a line.
  const announced = sleep(again)
    .then(async () => {
      await announce(arp, runner);
      log(`announced ${plan.source.address} on ${dev} again, ${again} ms later`);
    })
    .catch((err: unknown) => {
      log(
        `warning: the second announcement failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    });
  return { alreadySetUp: false, changes, announced };
}

/**
 * Network set-up for a replica of an active/standby router (docs/ha.md): everything but the
 * source address, which moves with the holder role — the kernel settings, the egress link up,
 * the routes via the gateway. Returns what changed, one line each.
 */
export async function runNetworkSetupWithoutAddress(
  plan: NetworkPlan,
  options: Pick<NetworkSetupOptions, "runner" | "kernel" | "log">,
): Promise<readonly string[]> {
  const { runner, kernel } = options;
  const changes: string[] = [];
  const change = (line: string) => {
    changes.push(line);
    options.log?.(line);
  };
  for (const s of plan.sysctls) {
    const current = await kernel.read(s);
    if (current !== s.value) {
      await kernel.write(s, s.value);
      change(`set ${sysctlName(s)}=${s.value} (was ${current ?? "unset"}): ${s.why}`);
    }
  }
  const link = await readLink(plan, runner);
  if (!(link.flags ?? []).includes("UP")) {
    await runner.run(networkCommands(plan).up);
    change(`brought ${plan.egressInterface} up`);
  }
  await restoreRoutes(plan, runner);
  return changes;
}

/**
 * The routes via the gateway. The kernel deletes every IPv4 route through an interface when
 * the interface's last IPv4 address goes, so a replica that gave the source address up has
 * none left when it takes the address over again: the new holder puts them back.
 */
export async function restoreRoutes(plan: NetworkPlan, runner: CommandRunner): Promise<void> {
  const cmd = networkCommands(plan);
  // one `ip` for both (a takeover waits for it): the lines are the commands without `ip -4`
  const [ip = "ip", family = "-4"] = cmd.hostRoute;
  const lines = [cmd.hostRoute, cmd.defaultRoute].map((argv) => argv.slice(2).join(" "));
  await runner.run([ip, family, "-batch", "-"], { input: `${lines.join("\n")}\n` });
}

// Tracks the gateway: one probe per interval from the egress interface. IPv4: an ARP probe
// (sender 0.0.0.0, duplicate-address-detection style, so a standby without an address can
// probe too). IPv6: a neighbour solicitation (NDP, below). After `failuresToDown` misses in a
// row the gateway counts as gone; one answer brings it back.
import { isIPv6 } from "node:net";
import type { CommandRunner } from "../redirect/command-runner.ts";

export interface GatewayCheckOptions {
  readonly runner: CommandRunner;
  readonly egressInterface: string;
  readonly gateway: string;
  readonly intervalMs: number;
  readonly failuresToDown?: number;
  readonly onChange: (reachable: boolean, detail: string) => void;
}

export interface GatewayCheck {
  stop(): void;
  readonly reachable: boolean;
}

/**
 * One ARP probe for an address, from 0.0.0.0 (duplicate-address-detection style: it needs no
 * address of its own, and a host holding the address answers it). `arping -D` exits 1 when
 * someone answered; `peer` is the answering host's link-layer address.
 */
export async function arpProbe(
  runner: CommandRunner,
  egressInterface: string,
  address: string,
  timeoutSeconds: number,
): Promise<{ answered: boolean; peer: string | undefined }> {
  const r = await runner.run(
    ["arping", "-D", "-c", "1", "-w", String(timeoutSeconds), "-I", egressInterface, address],
    { okCodes: [0, 1, 2], timeoutMs: timeoutSeconds * 1000 + 2000 },
  );
  const peer = /reply from \S+ \[([0-9A-Fa-f:]{17})\]/.exec(r.stdout)?.[1]?.toLowerCase();
  return { answered: r.code === 1, peer };
}

/** What a neighbour solicitation brought back. */
export interface NdpAnswer {
  /** another host answered (our own interface's answers do not count) */
  readonly answered: boolean;
  /** the first other host's link-layer address */
  readonly peer: string | undefined;
}

const NDP_ANSWER = /^Target link-layer address: ((?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2})\s*$/gm;

/**
 * One neighbour solicitation for an IPv6 address on the egress interface (`ndisc6`, the IPv6
 * counterpart of `arpProbe`): did some host answer with a neighbour advertisement, and with
 * which link-layer address. ndisc6 exits 0 when an advertisement came, 2 when none did, and 1
 * when it could not ask (no such interface, the interface is down, no address to send from):
 * that, like a missing ndisc6, is an error, as a failing arping is.
 *
 * The source address is the kernel's choice, on purpose. For the solicited-node multicast
 * address it asks, the kernel sends from the interface's link-local address: a standby has
 * one (VRRP speaks from it) and needs no other to probe. Without one it sends from the held
 * address itself, and another holder's answer still arrives: the kernel sends a neighbour
 * advertisement out of the interface the solicitation came in on, whatever its destination.
 * There is no duplicate-address-detection form as with `arping -D`: ndisc6 cannot send from
 * the unspecified address, and need not.
 *
 * `self`: this interface's own link-layer address. When the prober holds the address itself
 * (the split-brain check), its own kernel may answer: on a macvlan in bridge mode, the
 * solicitation loops back through the parent and the kernel's advertisement with it. Such an
 * answer is not "another host". With `self`, ndisc6 collects every answer for the whole wait
 * (`-m`) and ours are left out; an exit 0 with no link-layer address to tell whose it was is
 * then an error (no evidence either way). Without `self`, the first answer ends the probe.
 */
export async function ndpProbe(
  runner: CommandRunner,
  egressInterface: string,
  address: string,
  timeoutSeconds: number,
  self?: string,
): Promise<NdpAnswer> {
  const argv = [
    "ndisc6",
    ...(self !== undefined ? ["-m"] : []),
    "-n", // numeric: no name lookups
    "-r",
    "1",
    "-w",
    String(timeoutSeconds * 1000),
    address,
    egressInterface,
  ];
  const r = await runner.run(argv, { okCodes: [0, 2], timeoutMs: timeoutSeconds * 1000 + 2000 });
  if (r.code !== 0) return { answered: false, peer: undefined };
  const macs = [...r.stdout.matchAll(NDP_ANSWER)].map((m) => (m[1] ?? "").toLowerCase());
  if (self === undefined) return { answered: true, peer: macs[0] };
  if (macs.length === 0) {
    throw new Error(
      `ndisc6 reported an answer for ${address} on ${egressInterface} without a link-layer address: ${JSON.stringify(r.stdout.trim())}`,
    );
  }
  const others = macs.filter((m) => m !== self.toLowerCase());
  return { answered: others.length > 0, peer: others[0] };
}

/** An interface's own link-layer address (lower case), from `ip -j link show`. */
export async function linkAddress(runner: CommandRunner, dev: string): Promise<string> {
  const r = await runner.run(["ip", "-j", "link", "show", "dev", dev]);
  const mac = (JSON.parse(r.stdout) as { address?: string }[])[0]?.address;
  if (!mac) throw new Error(`${dev} has no link-layer address (ip -j link show dev ${dev})`);
  return mac.toLowerCase();
}

/** One probe: true when the gateway answered (ARP for IPv4, NDP for IPv6). */
export async function probeGateway(
  runner: CommandRunner,
  egressInterface: string,
  gateway: string,
  timeoutSeconds: number,
): Promise<boolean> {
  const probe = isIPv6(gateway) ? ndpProbe : arpProbe;
  return (await probe(runner, egressInterface, gateway, timeoutSeconds)).answered;
}

export function startGatewayCheck(o: GatewayCheckOptions): GatewayCheck {
  const failuresToDown = o.failuresToDown ?? 3;
  let misses = 0;
  let reachable = true;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const timeoutSeconds = Math.max(1, Math.ceil(o.intervalMs / 1000));
  const protocol = isIPv6(o.gateway) ? "NDP" : "ARP";
  const tick = async () => {
    let ok: boolean;
    let detail: string;
    try {
      ok = await probeGateway(o.runner, o.egressInterface, o.gateway, timeoutSeconds);
      detail = ok ? `answered ${protocol}` : `no ${protocol} answer`;
    } catch (err) {
      ok = false;
      detail = err instanceof Error ? err.message : String(err);
    }
    if (stopped) return;
    misses = ok ? 0 : misses + 1;
    if (reachable && misses >= failuresToDown) {
      reachable = false;
      o.onChange(false, `${detail} (${misses} times in a row)`);
    } else if (!reachable && ok) {
      reachable = true;
      o.onChange(true, detail);
    }
    timer = setTimeout(() => void tick(), o.intervalMs);
  };
  timer = setTimeout(() => void tick(), 0);
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
    get reachable() {
      return reachable;
    },
  };
}

// Tracks the gateway: one ARP probe per interval from the egress interface (sender 0.0.0.0,
// duplicate-address-detection style, so a standby without an address can probe too). After
// `failuresToDown` misses in a row the gateway counts as gone; one answer brings it back.
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

/** One probe: true when the gateway answered. */
export async function probeGateway(
  runner: CommandRunner,
  egressInterface: string,
  gateway: string,
  timeoutSeconds: number,
): Promise<boolean> {
  return (await arpProbe(runner, egressInterface, gateway, timeoutSeconds)).answered;
}

export function startGatewayCheck(o: GatewayCheckOptions): GatewayCheck {
  const failuresToDown = o.failuresToDown ?? 3;
  let misses = 0;
  let reachable = true;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const timeoutSeconds = Math.max(1, Math.ceil(o.intervalMs / 1000));
  const tick = async () => {
    let ok: boolean;
    let detail: string;
    try {
      ok = await probeGateway(o.runner, o.egressInterface, o.gateway, timeoutSeconds);
      detail = ok ? "answered ARP" : "no ARP answer";
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

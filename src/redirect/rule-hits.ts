// New connections per redirect rule, read from the kernel's counters: nft's `count` chain
// (one counter per rule, commented with its line) or the iptables nat rules' own counters
// (the nat table sees only the first packet of each connection).
import type { NatBackend } from "./apply-nat.ts";
import type { CommandRunner } from "./command-runner.ts";
import type { NatPlan } from "./plan.ts";
import { FILTER_TABLE, nftFamily } from "./render-nft.ts";

interface NftRuleJson {
  readonly rule?: {
    readonly comment?: string;
    readonly expr?: readonly { readonly counter?: { readonly packets: number } }[];
  };
}

/** Hits by rule line from `nft -j list chain <family> egress_router count`. */
export function parseNftHits(json: string): Map<number, number> {
  const hits = new Map<number, number>();
  const doc = JSON.parse(json) as { nftables?: readonly NftRuleJson[] };
  for (const item of doc.nftables ?? []) {
    const m = /^line (\d+)$/.exec(item.rule?.comment ?? "");
    const counter = item.rule?.expr?.find((e) => e.counter)?.counter;
    if (m && counter) hits.set(Number(m[1]), counter.packets);
  }
  return hits;
}

/** Hits by rule line from `iptables-save -c -t nat`. */
export function parseIptablesHits(save: string): Map<number, number> {
  const hits = new Map<number, number>();
  for (const line of save.split("\n")) {
    const m = /^\[(\d+):\d+\] -A PREROUTING .*--comment "?line (\d+)"? .*-j DNAT/.exec(line);
    if (m) hits.set(Number(m[2]), Number(m[1]));
  }
  return hits;
}

/** Reads the counters; rules without one (never loaded) are absent from the map. */
export async function readRuleHits(
  plan: NatPlan,
  backend: NatBackend,
  runner: CommandRunner,
): Promise<Map<number, number>> {
  switch (backend) {
    case "nft": {
      const r = await runner.run([
        "nft",
        "-j",
        "list",
        "chain",
        nftFamily(plan),
        FILTER_TABLE,
        "count",
      ]);
      return parseNftHits(r.stdout);
    }
    case "iptables": {
      const program = plan.family === 6 ? "ip6tables-save" : "iptables-save";
      const r = await runner.run([program, "-c", "-t", "nat"]);
      return parseIptablesHits(r.stdout);
    }
  }
}

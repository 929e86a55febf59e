// The high-availability settings (EGRESS_HA_*): strings in, one frozen HaSettings out, or
// every problem at once. Pure apart from reading the setting sources it is given.
import { isIP } from "node:net";
import type { SettingSpec } from "../config/catalogue.ts";
import { settings } from "../config/catalogue.ts";
import type { ConfigProblem } from "../config/config-error.ts";
import type { Env, Flags } from "../config/read-setting.ts";
import { readSetting } from "../config/read-setting.ts";
import { parsePrefix } from "../config/addresses.ts";
import type { SourceAddress } from "../config/types.ts";

export type ElectionKind = "none" | "keepalived";

export interface HaSettings {
  readonly election: ElectionKind;
  /** VRRP virtual router id; 0 when election is "none" */
  readonly vrid: number;
  readonly priority: number;
  /** seconds, a multiple of 0.01 */
  readonly advertSeconds: number;
  /** unicast peers; empty: multicast */
  readonly peers: readonly string[];
  readonly preempt: boolean;
  /** address moved with the holder on the cluster interface (lab, bare metal) */
  readonly clusterAddress: SourceAddress | undefined;
  /** 0: gateway not checked */
  readonly gatewayCheckSeconds: number;
  /** 0: no split-brain check (another host answering for the source address) */
  readonly duplicateCheckSeconds: number;
  readonly addressLeaseSeconds: number;
  readonly runDir: string;
}

function problem(spec: SettingSpec, value: string, state: string): ConfigProblem {
  return {
    code: "setting-invalid",
    setting: spec.env,
    message: `${spec.env}: Cannot use "${value}": ${state}`,
  };
}

function intIn(text: string, min: number, max: number): number | undefined {
  if (!/^\d{1,3}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

/** Reads and checks every EGRESS_HA_* setting. `source` is the parsed EGRESS_SOURCE, when valid. */
export function readHaSettings(
  env: Env,
  flags: Flags,
  source?: SourceAddress,
): { settings: HaSettings | undefined; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const get = (spec: SettingSpec): string => {
    const r = readSetting(spec, env, flags);
    problems.push(...r.problems);
    return (r.setting.value ?? "").trim();
  };

  const electionText = get(settings.haElection);
  const election: ElectionKind | undefined =
    electionText === "none" || electionText === "keepalived" ? electionText : undefined;
  if (election === undefined)
    problems.push(
      problem(
        settings.haElection,
        electionText,
        "unknown election; use none (a single replica) or keepalived (VRRP between replicas)",
      ),
    );

  const vridText = get(settings.haVrid);
  let vrid = 0;
  if (election === "keepalived" || vridText !== "") {
    const v = intIn(vridText, 1, 255);
    if (v === undefined)
      problems.push(
        problem(
          settings.haVrid,
          vridText,
          vridText === ""
            ? "keepalived election needs a virtual router id; set EGRESS_HA_VRID to a number from 1 to 255 that no other VRRP router on the egress LAN uses, the same on every replica"
            : "not a virtual router id; use a number from 1 to 255, the same on every replica",
        ),
      );
    else vrid = v;
  }

  const priorityText = get(settings.haPriority);
  const priority = intIn(priorityText, 1, 254);
  if (priority === undefined)
    problems.push(
      problem(
        settings.haPriority,
        priorityText,
        "not a VRRP priority; use a number from 1 to 254 (255 is reserved for an address owner)",
      ),
    );

  const advertText = get(settings.haAdvertSeconds);
  const advert = /^\d+(\.\d{1,2})?$/.test(advertText) ? Number(advertText) : NaN;
  if (!(advert >= 0.01 && advert <= 40))
    problems.push(
      problem(
        settings.haAdvertSeconds,
        advertText,
        "not an advertisement interval; use 0.01 to 40 seconds in steps of 0.01, e.g. 0.1",
      ),
    );

  const peersText = get(settings.haPeers);
  const peers = peersText === "" ? [] : peersText.split(/[\s,]+/).filter((p) => p !== "");
  for (const p of peers) {
    if (isIP(p) === 0)
      problems.push(
        problem(settings.haPeers, p, "not an IP address; list the other replicas' LAN addresses"),
      );
  }
  const families = new Set(peers.map((p) => isIP(p)));
  if (families.size > 1)
    problems.push(
      problem(
        settings.haPeers,
        peersText,
        "IPv4 and IPv6 peers mixed; VRRP runs over one family, list addresses of one family",
      ),
    );

  const preempt = get(settings.haPreempt) !== "";

  const clusterText = get(settings.haClusterAddress);
  let clusterAddress: SourceAddress | undefined;
  if (clusterText !== "") {
    const p = parsePrefix(clusterText, false);
    if (!p)
      problems.push(
        problem(
          settings.haClusterAddress,
          clusterText,
          "not an address with an optional /prefix; write e.g. 192.0.2.4/24",
        ),
      );
    else
      clusterAddress = Object.freeze({
        address: p.address,
        prefixLength: p.prefixLength,
        family: p.family,
      });
  }

  const seconds = (spec: SettingSpec, min: number, max: number, fix: string): number => {
    const text = get(spec);
    const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
    if (!(n >= min && n <= max)) {
      problems.push(problem(spec, text, fix));
      return 0;
    }
    return n;
  };
  const gatewayCheckSeconds = seconds(
    settings.haGatewayCheckSeconds,
    0,
    60,
    "not a check interval; use 0 (off) to 60 seconds, e.g. 1",
  );
  const duplicateCheckSeconds = seconds(
    settings.haDuplicateCheckSeconds,
    0,
    60,
    "not a check interval; use 0 (off) to 60 seconds, e.g. 1",
  );
  const addressLeaseSeconds = seconds(
    settings.haAddressLeaseSeconds,
    1,
    3600,
    "not a lease time; use 1 to 3600 seconds, e.g. 3",
  );
  const runDir = get(settings.haRunDir);
  if (!runDir.startsWith("/"))
    problems.push(
      problem(settings.haRunDir, runDir, "not an absolute path; use e.g. /run/egress-router/ha"),
    );

  if (election === "keepalived" && source?.family === 6 && peers.some((p) => isIP(p) === 4))
    problems.push(
      problem(
        settings.haPeers,
        peersText,
        "IPv4 peers for an IPv6 router; list IPv6 addresses, or leave empty for multicast",
      ),
    );

  if (problems.length > 0 || election === undefined || priority === undefined)
    return { settings: undefined, problems };
  return {
    settings: Object.freeze({
      election,
      vrid,
      priority,
      advertSeconds: advert,
      peers: Object.freeze(peers),
      preempt,
      clusterAddress,
      gatewayCheckSeconds,
      duplicateCheckSeconds,
      addressLeaseSeconds,
      runDir,
    }),
    problems,
  };
}

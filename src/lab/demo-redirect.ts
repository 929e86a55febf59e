// Redirect mode's demo scenarios: every EGRESS_DESTINATION form, over TCP, UDP and SCTP,
// IPv4 and IPv6, the refusal of unmapped ports, and a rule change while legacy mode runs.
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import type { FamilyAddresses } from "./topology.ts";
import type { DemoContext, Expectation, Scenario, ScenarioGroup } from "./demo-scenario.ts";
import type { ProbeProtocol } from "./lab-probe.ts";
import { labTopology } from "./topology.ts";
import { sctpUnsupportedReason } from "./lab.ts";

// The addresses are the same in every lab (only the namespace names differ).
const { v4, v6 } = labTopology("x");

type Proto = ProbeProtocol | "sctp";

function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

function scenario(
  f: FamilyAddresses,
  protocol: Proto,
  port: number,
  rule: string,
  expect: Expectation,
): Scenario {
  const to = f.routerCluster;
  const asked =
    protocol === "http" ? `http://${hostPort(to, port)}/` : `${protocol} ${hostPort(to, port)}`;
  return {
    asked,
    rule,
    expect,
    ...(protocol === "sctp" ? { skip: sctpUnsupportedReason } : {}),
    run: (ctx: DemoContext) =>
      protocol === "sctp"
        ? ctx.lab.probeSctp("client", to, port, expect.outcome === "timeout" ? 1000 : 20_000)
        : ctx.lab.probe("client", { protocol, address: to, port }),
  };
}

const reply = (address: string, port: number): Expectation => ({
  outcome: "reply",
  at: hostPort(address, port),
});
const refused: Expectation = { outcome: "refused" };

function checked(r: { code: number; stdout: string; stderr: string }, what: string): void {
  if (r.code !== 0) {
    const why = r.stderr.trim().split("\n").at(-1) ?? `exit code ${r.code}`;
    throw new Error(`${what} failed: ${why}`);
  }
}

const [e25 = "", e26 = "", e27 = ""] = v4.external;
const rulesV4 = [`80 tcp ${e25}`, `8080 tcp ${e26} 80`, `514 udp ${e25}`, `38412 sctp ${e26}`, e27];

const initV4: ScenarioGroup = {
  mode: "redirect",
  title: "redirect mode, IPv4: EGRESS_ROUTER_MODE=init, one rule of each form",
  settings: [
    `EGRESS_SOURCE=${v4.source} EGRESS_GATEWAY=${v4.gateway} EGRESS_ROUTER_MODE=init`,
    ...rulesV4.map((r, i) => `EGRESS_DESTINATION line ${i + 1}: ${r}`),
  ],
  async setup(ctx) {
    const start = performance.now();
    const r = await ctx.runRouter([], {
      EGRESS_SOURCE: v4.source,
      EGRESS_GATEWAY: v4.gateway,
      EGRESS_ROUTER_MODE: "init",
      EGRESS_DESTINATION: rulesV4.join("\n"),
    });
    checked(r, "the router's init mode");
    return `network and NAT set up in ${((performance.now() - start) / 1000).toFixed(1)} s (including the second ARP announcement)`;
  },
  scenarios: [
    scenario(v4, "http", 80, `line 1: ${rulesV4[0]}`, reply(e25, 80)),
    scenario(v4, "http", 8080, `line 2: ${rulesV4[1]} (remote port)`, reply(e26, 80)),
    scenario(v4, "udp", 514, `line 3: ${rulesV4[2]}`, reply(e25, 514)),
    scenario(v4, "sctp", 38412, `line 4: ${rulesV4[3]}`, reply(e26, 38412)),
    scenario(v4, "tcp", 5432, `line 5: fallback ${e27}`, reply(e27, 5432)),
    scenario(v4, "udp", 123, `line 5: fallback ${e27}`, reply(e27, 123)),
    scenario(v4, "sctp", 3868, `line 5: fallback ${e27}`, reply(e27, 3868)),
  ],
};

const noFallbackRules = [`80 tcp ${e25}`, `514 udp ${e25}`];
const noFallbackV4: ScenarioGroup = {
  mode: "redirect",
  title: "redirect mode, IPv4, no fallback: other ports are refused at once",
  settings: [
    `egress-router redirect --nat-only (network already set up)`,
    ...noFallbackRules.map((r, i) => `EGRESS_DESTINATION line ${i + 1}: ${r}`),
  ],
  async setup(ctx) {
    const r = await ctx.runRouter(["redirect", "--nat-only"], {
      EGRESS_SOURCE: v4.source,
      EGRESS_GATEWAY: v4.gateway,
      EGRESS_DESTINATION: noFallbackRules.join("\n"),
    });
    checked(r, "egress-router redirect");
    return "rules replaced in one nft transaction";
  },
  scenarios: [
    scenario(v4, "http", 80, `line 1: ${noFallbackRules[0]}`, reply(e25, 80)),
    scenario(v4, "tcp", 5432, "no rule, no fallback: TCP reset", refused),
    scenario(v4, "udp", 123, "no rule, no fallback: ICMP port unreachable", refused),
  ],
};

const [f25 = "", f26 = "", f27 = ""] = v6.external;
const rulesV6 = [`80 tcp ${f25}`, `8080 tcp ${f26} 80`, `514 udp ${f25}`, f27];
const ipv6: ScenarioGroup = {
  mode: "redirect",
  title: "redirect mode, IPv6: ip6 nat, DAD, unsolicited neighbour advertisement",
  settings: [
    `egress-router redirect --source ${v6.source}/64 --gateway ${v6.gateway}`,
    ...rulesV6.map((r, i) => `EGRESS_DESTINATION line ${i + 1}: ${r}`),
  ],
  async setup(ctx) {
    const start = performance.now();
    const r = await ctx.runRouter(
      ["redirect", "--no-wait", "--source", `${v6.source}/64`, "--gateway", v6.gateway],
      { EGRESS_DESTINATION: rulesV6.join("\n") },
    );
    checked(r, "egress-router redirect (IPv6)");
    return `network and NAT set up in ${((performance.now() - start) / 1000).toFixed(1)} s (after duplicate address detection)`;
  },
  scenarios: [
    scenario(v6, "http", 80, `line 1: ${rulesV6[0]}`, reply(f25, 80)),
    scenario(v6, "http", 8080, `line 2: ${rulesV6[1]} (remote port)`, reply(f26, 80)),
    scenario(v6, "udp", 514, `line 3: ${rulesV6[2]}`, reply(f25, 514)),
    scenario(v6, "tcp", 7000, `line 4: fallback ${f27}`, reply(f27, 7000)),
  ],
};

/** legacy: a long-running router whose rules file changes under it. */
function legacyGroup(): ScenarioGroup {
  let router: ChildProcess | undefined;
  let log: string[] = [];
  let rulesFile = "";
  const waitLog = async (msg: string, from: number): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (log.slice(from).some((l) => l.includes(`"msg":"${msg}"`))) return;
      if (router?.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`the router did not log "${msg}" (${log.at(-1) ?? "no output"})`);
  };
  const change = (text: string, expectMsg: string, target: Scenario): Scenario => ({
    ...target,
    run: async (ctx) => {
      const from = log.length;
      writeFileSync(rulesFile, text);
      await waitLog(expectMsg, from);
      return target.run(ctx);
    },
  });
  return {
    mode: "redirect",
    title: "redirect mode, legacy: stays up and re-loads its rules when the file changes",
    settings: [
      `EGRESS_ROUTER_MODE=legacy EGRESS_DESTINATION_FILE=<lab dir>/legacy-rules`,
      `EGRESS_DESTINATION line 1: 9000 tcp ${e25}   (then changed while it runs)`,
    ],
    async setup(ctx) {
      rulesFile = `${ctx.lab.dir}/legacy-rules`;
      writeFileSync(rulesFile, `9000 tcp ${e25}\n`);
      log = [];
      router = ctx.spawnRouter([], {
        EGRESS_SOURCE: v4.source,
        EGRESS_GATEWAY: v4.gateway,
        EGRESS_ROUTER_MODE: "legacy",
        EGRESS_DESTINATION_FILE: rulesFile,
        EGRESS_LOG_FORMAT: "json",
      });
      let partial = "";
      router.stdout?.setEncoding("utf8").on("data", (d: string) => {
        partial += d;
        const lines = partial.split("\n");
        partial = lines.pop() ?? "";
        log.push(...lines);
      });
      await waitLog("router ready", 0);
      return "running (daemon host: admin server on port 9090, rules file watched)";
    },
    async teardown() {
      if (router && router.exitCode === null) {
        const exited = new Promise((r) => router?.once("exit", r));
        router.kill("SIGTERM");
        await exited;
      }
    },
    scenarios: [
      scenario(v4, "tcp", 9000, `line 1: 9000 tcp ${e25}`, reply(e25, 9000)),
      change(
        `9000 tcp ${e26}\n`,
        "config applied",
        scenario(v4, "tcp", 9000, `file now says 9000 tcp ${e26}`, reply(e26, 9000)),
      ),
      change(
        "9000 tcp not-an-address\n",
        "config reload rejected",
        scenario(v4, "tcp", 9000, "bad rules written: old ones kept", reply(e26, 9000)),
      ),
    ],
  };
}

export const redirectScenarioGroups: readonly ScenarioGroup[] = [
  initV4,
  noFallbackV4,
  legacyGroup(),
  ipv6,
];

// The active/standby demo: two router pods on the same LAN run `egress-router ha run`,
// keepalived elects the holder, clients use the cluster-side address that moves with it. The
// holder is killed (SIGKILL of every process of its pod) while the client makes a new
// connection every 20 ms, and the demo prints the gap: from the kill to the first new
// connection that reaches the external server, from the reserved address, through the
// new holder. On a lab built with `lab up --ha`, the routers already running are used.
import type { DemoContext, Scenario, ScenarioGroup } from "./demo-scenario.ts";
import type { HaLab, RouterName } from "./ha-lab.ts";
import { CLUSTER_VIP, HA_PORT, HA_VRID, ROUTERS, addSecondRouter, openHaLab } from "./ha-lab.ts";
import type { ProbeResult } from "./lab-probe.ts";
import type { Attempt } from "./lab-traffic.ts";
import { wallNow } from "./lab-traffic.ts";
import { listNamespaces } from "./namespaces.ts";
import { createCommandRunner } from "../redirect/command-runner.ts";
import { labTopology, namespaceName } from "./topology.ts";

const { v4, v6 } = labTopology("x");
const [e25 = ""] = v4.external;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`no ${what} after ${ms / 1000} s`);
    await sleep(100);
  }
}

/** The demo's state between setup, the scenarios and teardown (one demo at a time). */
let ha: HaLab | undefined;
let started = false;
let killed: RouterName | undefined;
let note: string | undefined;

/** One holder, and the other router a standby. */
function holderAndStandby(h: HaLab): Promise<RouterName> {
  return waitFor("holder and standby", 30_000, async () => {
    const [a, b] = await Promise.all(ROUTERS.map((r) => h.state(r)));
    if (!a || !b) return undefined;
    if (a.ready && a.source && a.vip && b.role === "standby") return "a";
    if (b.ready && b.source && b.vip && a.role === "standby") return "b";
    return undefined;
  });
}

function asProbe(a: Attempt): ProbeResult {
  return {
    outcome: a.outcome,
    view: {
      server: "lab-external",
      protocol: "tcp",
      peer: a.peer ?? "",
      peerPort: a.peerPort ?? 0,
      local: a.local ?? "",
      localPort: a.localPort ?? 0,
    },
    ms: Math.round(a.end - a.start),
  };
}

const throughHolder: Scenario = {
  asked: `tcp ${CLUSTER_VIP}:${HA_PORT}`,
  rule: `the holder's line 1: ${HA_PORT} tcp ${e25}`,
  expect: { outcome: "reply", at: `${e25}:${HA_PORT}` },
  run: (ctx) => ctx.lab.probe("client", { protocol: "tcp", address: CLUSTER_VIP, port: HA_PORT }),
};

const takeover: Scenario = {
  asked: `tcp ${CLUSTER_VIP}:${HA_PORT}, every 20 ms`,
  rule: "the holder is killed (SIGKILL): the standby takes over",
  expect: { outcome: "reply", at: `${e25}:${HA_PORT}` },
  async run() {
    note = undefined;
    if (!ha) throw new Error("the routers are not running");
    const h = ha;
    const old = await holderAndStandby(h);
    const next: RouterName = old === "a" ? "b" : "a";
    const traffic = await h.traffic({ everyMs: 20, timeoutMs: 3000 });
    let first: Attempt | undefined;
    let killedAt = 0;
    try {
      await waitFor("connection before the kill", 20_000, async () =>
        Promise.resolve(traffic.attempts.some((a) => a.outcome === "reply") ? true : undefined),
      );
      killedAt = wallNow();
      killed = old;
      await h.killRouter(old, "SIGKILL");
      first = await waitFor("new connection through the new holder", 20_000, async () => {
        for (const a of traffic.attempts) {
          if (a.start > killedAt && a.outcome === "reply" && (await h.carried(next, a))) return a;
        }
        return undefined;
      });
    } finally {
      await traffic.stop();
    }
    if (!first) throw new Error("no connection through the new holder");
    const during = traffic.attempts.filter((a) => a.start > killedAt && a.start < first.start);
    note = `router ${old} killed; router ${next} holds: the first new connection through it reached the external server ${Math.round(first.end - killedAt)} ms after the kill (${during.length} connections started in between waited or failed)`;
    return asProbe(first);
  },
  note: () => note,
};

/** Removes rules and addresses from the first router pod, as a fresh pod has none. */
async function resetRouterPod(h: HaLab): Promise<void> {
  const tables = [
    "ip nat",
    "ip6 nat",
    "ip egress_router",
    "ip6 egress_router",
    "inet egress_router_ha",
  ];
  await h
    .exec("a", ["nft", "-f", "-"], {
      input: tables.map((t) => `table ${t}\ndelete table ${t}\n`).join(""),
    })
    .catch(() => undefined);
  for (const dev of [h.lab.topology.egressInterface, h.lab.topology.clusterInterface]) {
    // the pod's own cluster-side addresses stay
    const keep =
      dev === h.lab.topology.clusterInterface ? [v4.routerCluster, v6.routerCluster] : [];
    const r = await h.exec("a", ["ip", "-j", "address", "show", "dev", dev]).catch(() => undefined);
    const infos = (
      JSON.parse(r?.stdout || "[]") as {
        addr_info?: { local?: string; prefixlen?: number; scope?: string }[];
      }[]
    )
      .flatMap((l) => l.addr_info ?? [])
      .filter((a) => a.scope === "global" && a.local !== undefined && !keep.includes(a.local));
    for (const a of infos) {
      await h
        .exec("a", ["ip", "address", "del", `${a.local ?? ""}/${a.prefixlen ?? 32}`, "dev", dev], {
          okCodes: [0, 2],
        })
        .catch(() => undefined);
    }
  }
}

/** The routers' settings, as shown above the rows. */
const settings = [
  `EGRESS_SOURCE=${v4.source} EGRESS_GATEWAY=${v4.gateway} EGRESS_DESTINATION="${HA_PORT} tcp ${e25}"`,
  `EGRESS_HA_ELECTION=keepalived EGRESS_HA_VRID=${HA_VRID} EGRESS_HA_CLUSTER_ADDRESS=${CLUSTER_VIP}/24; priority 150 (router a), 100 (router b)`,
  "egress-router ha run, in router a and router b; clients use the cluster-side address, which moves with the holder",
];

export const haScenarioGroups: readonly ScenarioGroup[] = [
  {
    mode: "ha",
    title: "active/standby: two router pods, keepalived elects the holder of the source address",
    settings,
    async setup(ctx: DemoContext) {
      const start = performance.now();
      const lab = ctx.lab;
      const runner = createCommandRunner({ env: process.env });
      const hasSecond = (await listNamespaces(runner)).includes(namespaceName(lab.name, "routerb"));
      if (!hasSecond) await addSecondRouter(lab);
      const h = openHaLab(lab);
      ha = h;
      const states = await Promise.all(ROUTERS.map((r) => h.state(r)));
      started = !states.some((s) => s.running);
      if (started) {
        // what the other modes' scenarios left in the router pod (the IPv6 NAT rules would
        // translate the advertisements of the router started there)
        await resetRouterPod(h);
        for (const r of ROUTERS) h.startRouter(r);
      }
      const holder = await holderAndStandby(h);
      const s = ((performance.now() - start) / 1000).toFixed(1);
      return `router ${holder} holds ${v4.source} and ${CLUSTER_VIP}; router ${holder === "a" ? "b" : "a"} is its standby (${started ? `both started and elected in ${s} s` : "the routers of this lab"})`;
    },
    async teardown() {
      const h = ha;
      ha = undefined;
      const dead = killed;
      killed = undefined;
      if (!h) return;
      if (!started) {
        // the routers of `lab up --ha` stay: the killed one comes back, as a standby
        if (dead) h.startRouter(dead, {}, { detached: true });
        return;
      }
      await h.removeSecondRouter();
      // what the killed router left in the first router pod: its rules and addresses
      await resetRouterPod(h);
    },
    scenarios: [throughHolder, takeover],
  },
];

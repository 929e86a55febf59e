// Active/standby routers with an IPv6 source address on the real kernel: the lab's two router
// pods, real keepalived, the gateway check and the split-brain guard by neighbour
// solicitation (ndisc6). What IPv4 has in test/ha-takeover.test.ts, for what differs with
// IPv6: the gateway (2001:db8:2::1) is tracked, a takeover from a killed holder whose address
// still lives gives a usable address (keepalived adds it without duplicate address
// detection, which would otherwise mark it "dadfailed" for good), and a split-brain is found
// and settled. Generous deadlines and 0.3 s advertisements, as there.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { HaLab, RouterName } from "../src/lab/ha-lab.ts";
import { ROUTERS, createHaLab } from "../src/lab/ha-lab.ts";
import { waitFor as pollFor } from "./helpers/net.ts";
import { privilegedNeeding } from "./helpers/privileged.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const waitFor = <T>(what: string, ms: number, f: () => Promise<T | undefined> | T | undefined) =>
  pollFor(what, f, ms, 200);

const other = (r: RouterName): RouterName => (r === "a" ? "b" : "a");

describe(
  "active/standby routers with an IPv6 source (keepalived, ndisc6)",
  privilegedNeeding([{ program: "ndisc6", debianPackage: "ndisc6" }]),
  () => {
    let ha: HaLab;
    let env: Record<string, string>;
    let source: string;
    let gateway: string;

    /** The source address's entry on a router's egress interface, if it has one. */
    const held = async (r: RouterName) => {
      const j = await ha.exec(r, [
        "ip",
        "-j",
        "-6",
        "address",
        "show",
        "dev",
        ha.lab.topology.egressInterface,
      ]);
      const infos = (JSON.parse(j.stdout) as { addr_info?: Record<string, unknown>[] }[])[0]
        ?.addr_info;
      return infos?.find((i) => i["local"] === source);
    };
    const macOf = async (r: RouterName) => {
      const j = await ha.exec(r, ["ip", "-j", "link", "show", ha.lab.topology.egressInterface]);
      return (JSON.parse(j.stdout) as { address: string }[])[0]?.address.toLowerCase();
    };
    /** The gateway's neighbour entry for the source address: its link-layer address. */
    const gatewayEntry = async () => {
      const j = await ha.lab.exec("gateway", ["ip", "-j", "-6", "neigh", "show", source]);
      return (JSON.parse(j.stdout) as { lladdr?: string }[])[0]?.lladdr?.toLowerCase();
    };
    const view = async (r: RouterName) => {
      const s = await ha.state(r);
      return { ...s, address: await held(r) };
    };
    const holderAndStandby = (ms = 60_000) =>
      waitFor("one holder and one standby", ms, async () => {
        const [a, b] = await Promise.all(ROUTERS.map(view));
        for (const [h, s] of [
          [a, b],
          [b, a],
        ]) {
          if (h?.ready && h.address && s?.role === "standby" && !s.ready && !s.address)
            return h.router;
        }
        return undefined;
      });

    before(async () => {
      ha = await createHaLab({ egressLink: "veth" });
      const v6 = ha.lab.v6;
      source = v6.source;
      gateway = v6.gateway;
      env = {
        EGRESS_SOURCE: `${v6.source}/${v6.lanPrefix}`,
        EGRESS_GATEWAY: v6.gateway,
        EGRESS_DESTINATION: `7000 tcp ${v6.external[0] ?? ""}\n`,
        EGRESS_HA_CLUSTER_ADDRESS: `2001:db8:1::4/${v6.clusterPrefix}`,
        EGRESS_HA_ADVERT_SECONDS: "0.3",
      };
      for (const r of ROUTERS) ha.startRouter(r, env);
    });
    after(async () => {
      await ha?.down();
    });

    it("the gateway tracked by NDP: gone puts both in fault, back elects a holder again", async () => {
      await holderAndStandby();
      await ha.lab.exec("gateway", ["ip", "address", "del", `${gateway}/64`, "dev", "lan0"]);
      try {
        await waitFor("both routers in fault, nobody holding", 30_000, async () => {
          const s = await Promise.all(ROUTERS.map(view));
          return s.every((x) => x.role === "fault" && !x.ready && !x.address) ? true : undefined;
        });
      } finally {
        await ha.lab.exec("gateway", [
          "ip",
          "address",
          "add",
          `${gateway}/64`,
          "dev",
          "lan0",
          "nodad",
        ]);
      }
      await holderAndStandby();
    });

    it("a SIGKILLed holder is replaced while its address still lives: the new one's address is usable, and that is no split-brain", async () => {
      const old = await holderAndStandby();
      const next = other(old);
      await ha.killRouter(old, "SIGKILL");
      try {
        const n = await waitFor("the new holder", 30_000, async () => {
          const v = await view(next);
          return v.ready && v.address ? v : undefined;
        });
        assert.notEqual(n.address?.["dadfailed"], true, JSON.stringify(n.address));
        // the killed holder's address runs out with its lease (3 s); the new one's stays usable
        await waitFor("the killed holder's address to expire", 15_000, async () =>
          (await held(old)) ? undefined : true,
        );
        await sleep(8000); // beyond the split-brain confirmation time
        const v = await view(next);
        assert.ok(v.ready, "still the holder");
        assert.equal(v.splitBrain, "clear");
        assert.equal(v.address?.["dadfailed"], undefined, JSON.stringify(v.address));
        assert.equal(v.address?.["tentative"], undefined, JSON.stringify(v.address));
      } finally {
        ha.startRouter(old, env);
      }
      assert.equal(await holderAndStandby(), next);
    });

    it("split-brain: routers that cannot hear each other settle it by NDP; the one that came second stands down", async () => {
      const keeper = await holderAndStandby();
      const intruder = other(keeper);
      await ha.partition(true);
      try {
        await waitFor("the intruder to stand down", 40_000, async () => {
          const [k, i] = await Promise.all([view(keeper), view(intruder)]);
          return k.ready &&
            k.address &&
            i.role === "fault" &&
            i.splitBrain === "standing-down" &&
            !i.address
            ? true
            : undefined;
        });
        // the keeper announced the address to the gateway again (a solicitation from it): the
        // gateway's neighbour entry, which the intruder's takeover had pointed at the
        // intruder, points at the keeper
        const keeperMac = await macOf(keeper);
        await waitFor(
          "the gateway's entry for the source to point at the keeper",
          20_000,
          async () => ((await gatewayEntry()) === keeperMac ? true : undefined),
        );
      } finally {
        await ha.partition(false);
      }
      await waitFor("the intruder back as a standby", 30_000, async () => {
        const s = await ha.state(intruder);
        return s.role === "standby" && s.splitBrain === "clear" ? true : undefined;
      });
      assert.equal(await holderAndStandby(), keeper);
    });
  },
);

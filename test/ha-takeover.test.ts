// Active/standby routers on the real kernel: two router pods, real keepalived (VRRP) on a real
// LAN, real nft NAT, steady real traffic from the client pod through the cluster-side address
// to the external server, whose firewall admits only the reserved source address. Behaviour,
// not speed (bench/takeover.ts measures): deadlines are generous, and the routers advertise
// every 0.3 s instead of 0.1 s, so a replica starved of CPU by the rest of the suite is not
// taken for dead. All along, a monitor checks that the two pods never hold the address (or
// the cluster-side address) at the same time, except while a test makes them (split-brain).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, afterEach, before, describe, it } from "node:test";
import type { HaLab, RouterName } from "../src/lab/ha-lab.ts";
import { ROUTERS, createHaLab } from "../src/lab/ha-lab.ts";
import type { Attempt } from "../src/lab/lab-traffic.ts";
import { wallNow } from "../src/lab/lab-traffic.ts";
import type { HolderMonitor } from "./helpers/ha-monitor.ts";
import { monitorHolders } from "./helpers/ha-monitor.ts";
import { waitFor as pollFor } from "./helpers/net.ts";
import { privileged } from "./helpers/privileged.ts";

const waitFor = <T>(what: string, ms: number, f: () => Promise<T | undefined> | T | undefined) =>
  pollFor(what, f, ms, 100);

const settings = { EGRESS_HA_ADVERT_SECONDS: "0.3" };
const other = (r: RouterName): RouterName => (r === "a" ? "b" : "a");

describe("active/standby routers (keepalived, two router pods)", privileged(), () => {
  let ha: HaLab;
  let monitor: HolderMonitor;
  let source: string;
  const states = () => Promise.all(ROUTERS.map((r) => ha.state(r)));

  /** One holder (ready, with both addresses) and the other a standby; returns the holder. */
  const holderAndStandby = (ms = 30_000) =>
    waitFor("one holder and one standby", ms, async () => {
      const s = await states();
      const holding = s.filter((x) => x.ready && x.source && x.vip);
      const [h] = holding;
      if (holding.length !== 1 || !h) return undefined;
      const o = s.find((x) => x.router !== h.router);
      return o?.role === "standby" && !o.ready && !o.source && !o.vip ? h.router : undefined;
    });
  const ok = (a: Attempt) => a.outcome === "reply" && a.peer === source;
  /** The first attempt started after `t` that reached the external server through `router`. */
  const firstThrough = async (router: RouterName, attempts: readonly Attempt[], t: number) => {
    for (const a of attempts.filter((x) => x.start > t && ok(x))) {
      if (await ha.carried(router, a)) return a;
    }
    return undefined;
  };
  /** The link-layer addresses that answer ARP for the source address, asked from the gateway. */
  const answering = async () => {
    const r = await ha.lab.exec(
      "gateway",
      ["arping", "-b", "-c", "3", "-w", "3", "-I", "lan0", source],
      { okCodes: [0, 1] },
    );
    return [...new Set([...r.stdout.matchAll(/\[([0-9A-Fa-f:]{17})\]/g)].map((m) => m[1]))];
  };
  const macOf = async (r: RouterName) => {
    const j = await ha.exec(r, ["ip", "-j", "link", "show", ha.lab.topology.egressInterface]);
    return (JSON.parse(j.stdout) as { address: string }[])[0]?.address.toUpperCase();
  };
  const metric = async (r: RouterName, name: string) => {
    const res = await ha.exec(r, ["curl", "-s", "-m", "2", "http://127.0.0.1:9090/metrics"]);
    const m = new RegExp(`^${name} (\\S+)$`, "m").exec(res.stdout);
    return m ? Number(m[1]) : undefined;
  };
  const logLines = (r: RouterName) =>
    readFileSync(ha.logFile(r), "utf8")
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  before(async () => {
    // veth cables to the LAN bridge: a test can cut one router's link at the switch
    ha = await createHaLab({ egressLink: "veth" });
    source = ha.lab.v4.source;
    for (const r of ROUTERS) ha.startRouter(r, settings);
    monitor = monitorHolders(ha);
  });
  afterEach((t) => {
    const overlaps = monitor?.take() ?? [];
    // on failure, the routers' own account (the lab and its logs go away in after())
    // `passed` is there at run time (Node 24); the bundled types do not list it yet
    if ((t as { passed?: boolean }).passed !== false || !ha) {
      assert.deepEqual(overlaps, [], "two holders at once");
      return;
    }
    for (const r of ROUTERS) {
      let text = "(no log)";
      try {
        text = readFileSync(ha.logFile(r), "utf8")
          .split("\n")
          .filter((l) => !l.includes("Sending")) // keepalived's per-packet lines
          .slice(-120)
          .join("\n");
      } catch {
        // never started
      }
      process.stderr.write(`--- router ${r} (${t.name}) ---\n${text}\n`);
    }
  });
  after(async () => {
    await monitor?.stop();
    await ha?.down();
  });

  it("elects one holder: new connections leave from the reserved address through it, the standby holds nothing", async () => {
    // generous: two routers and their keepalived start on a machine other tests load too
    const h = await holderAndStandby(60_000);
    await ha.lab.resetFirewall();
    const traffic = await ha.traffic({ everyMs: 50 });
    await waitFor("a few connections", 20_000, () =>
      traffic.attempts.filter(ok).length >= 5 ? true : undefined,
    );
    const attempts = await traffic.stop();
    // the client may still have the cluster-side address of the first router to hold at
    // start-up in its cache (both start together): only the connections since it holds count
    const through = await firstThrough(h, attempts, 0);
    assert.ok(through, `no connection through ${h}: ${JSON.stringify(attempts.slice(-3))}`);
    const fw = await ha.lab.firewall();
    assert.deepEqual(fw.rejectedSources, [], "only the reserved source reaches the outside");
    const standby = other(h);
    const nat = await ha.exec(standby, ["nft", "list", "table", "ip", "nat"]);
    assert.doesNotMatch(nat.stdout, /dnat|snat/, "the standby translates nothing");
    assert.ok(monitor.rounds > 10, "the two-holder monitor is sampling");
  });

  it("a holder whose egress link goes down gives the role up; the standby takes over", async () => {
    const old = await holderAndStandby();
    const next = other(old);
    await ha.setEgressLink(old, false);
    try {
      const o = await waitFor(
        "the standby to hold and the old holder in fault",
        30_000,
        async () => {
          const n = await ha.state(next);
          const o = await ha.state(old);
          return n.ready && n.source && n.vip && o.role === "fault" && !o.ready && !o.source
            ? o
            : undefined;
        },
      );
      assert.match(o.reason ?? "", /FAULT/);
    } finally {
      await ha.setEgressLink(old, true);
    }
    // back as a standby, without a restart: it is the next case's new holder
    assert.equal(await holderAndStandby(), next);
  });

  it("a SIGKILLed holder is replaced: new connections flow through the new holder, the old one stops answering for the address", async () => {
    const old = await holderAndStandby();
    const next = other(old);
    const traffic = await ha.traffic({ everyMs: 20, timeoutMs: 3000 });
    await waitFor("traffic", 20_000, () => (traffic.attempts.some(ok) ? true : undefined));
    const killedAt = wallNow();
    monitor.setDead(old, true); // its kernel keeps the address until its lease runs out
    const pids = await ha.killRouter(old, "SIGKILL");
    assert.ok(pids.length >= 2, `router and keepalived processes killed: ${pids.join(",")}`);
    try {
      // the new holder held the address before (the previous case), let go and takes it
      // again without a restart: the routes the kernel dropped with the address come back
      const first = await waitFor("a new connection through the new holder", 30_000, () =>
        firstThrough(next, traffic.attempts, killedAt),
      );
      process.stderr.write(
        `SIGKILL takeover: first new connection through ${next} ${Math.round(first.end - killedAt)} ms after the kill\n`,
      );
      // the killed pod's address expires with its lease (3 s)
      await waitFor("the killed holder's address to expire", 15_000, async () =>
        (await ha.state(old)).source ? undefined : true,
      );
      const macs = await answering();
      assert.deepEqual(macs, [await macOf(next)], "only the new holder answers ARP for it");
    } finally {
      await traffic.stop();
      ha.startRouter(old, settings);
    }
    assert.equal(await holderAndStandby(), next);
    monitor.setDead(old, false);
  });

  it("SIGTERM hands over gracefully: no connection is lost", async () => {
    const old = await holderAndStandby();
    const next = other(old);
    // 10 s per connection: a first packet dropped in the switch-over is sent again by TCP
    // after 1 s (and 3 s): delayed, not lost
    const traffic = await ha.traffic({ everyMs: 20, timeoutMs: 10_000 });
    await waitFor("traffic", 20_000, () => (traffic.attempts.some(ok) ? true : undefined));
    const stoppedAt = wallNow();
    const [pid] = await ha.killRouter(old, "SIGTERM");
    assert.ok(pid, "the router's pid");
    let attempts: readonly Attempt[] = [];
    try {
      await waitFor("a new connection through the new holder", 30_000, () =>
        firstThrough(next, traffic.attempts, stoppedAt + 500),
      );
    } finally {
      attempts = await traffic.stop();
    }
    const failed = attempts.filter((a) => !ok(a));
    assert.deepEqual(
      failed,
      [],
      `connections failed in a graceful handover (${attempts.length - failed.length} ok)`,
    );
    assert.ok(attempts.filter((a) => a.start > stoppedAt).length > 10, "traffic went on");
    ha.startRouter(old, settings);
    assert.equal(await holderAndStandby(), next);
  });

  it("split-brain: routers that cannot hear each other's advertisements settle it by ARP; the one that came second stands down", async () => {
    const keeper = await holderAndStandby();
    const intruder = other(keeper);
    monitor.pause(true); // two holders for a few seconds: that is the point
    await ha.partition(true);
    try {
      // the standby hears no advertisement, takes the address (two holders), finds the
      // keeper answering for it beyond the lease, and gives it back
      await waitFor("the second holder to stand down", 40_000, async () => {
        const [sa, sb] = await states();
        const s = { a: sa, b: sb };
        const k = s[keeper];
        const i = s[intruder];
        return k?.ready &&
          k.source &&
          k.vip &&
          i?.role === "fault" &&
          i.splitBrain === "standing-down" &&
          !i.source &&
          !i.vip
          ? true
          : undefined;
      });
      const said = (r: RouterName, action: string) =>
        logLines(r).some(
          (l) => l["msg"] === "second holder of the source address" && l["action"] === action,
        );
      assert.ok(said(intruder, "standing-down"), "the intruder says it stands down");
      assert.equal(await metric(intruder, "egress_router_ha_split_brain"), 1);
      assert.equal(await metric(intruder, "egress_router_ha_split_brains_total"), 1);
      // the keeper saw the intruder answer, then stop, and announced the address again
      await waitFor("the keeper's account", 10_000, () =>
        logLines(keeper).some((l) => l["msg"] === "second holder gone") ? true : undefined,
      );
      // the keeper announced the address again: the LAN and the clients follow it
      await waitFor("only the keeper to answer ARP", 15_000, async () => {
        const macs = await answering();
        return macs.length === 1 && macs[0] === (await macOf(keeper)) ? true : undefined;
      });
      const traffic = await ha.traffic({ everyMs: 50, timeoutMs: 5000 });
      const since = wallNow();
      try {
        await waitFor("a new connection through the keeper", 20_000, () =>
          firstThrough(keeper, traffic.attempts, since),
        );
      } finally {
        await traffic.stop();
      }
    } finally {
      await ha.partition(false);
    }
    // the intruder hears the keeper's advertisements again: back as a standby
    await waitFor("the intruder back as a standby", 30_000, async () => {
      const s = await ha.state(intruder);
      return s.role === "standby" && s.splitBrain === "clear" ? true : undefined;
    });
    assert.equal(await metric(intruder, "egress_router_ha_split_brain"), 0);
    monitor.pause(false);
    assert.equal(await holderAndStandby(), keeper);
  });
});

// The active/standby checks over IPv6 on the real kernel: neighbour solicitations (ndisc6)
// for the gateway check and the split-brain guard, in network namespaces shaped like an
// OpenShift egress LAN. Two router namespaces have macvlan interfaces (bridge mode) on one
// parent, as pods on a node's NIC; the gateway sits behind the parent on a veth:
//
//   [a] mv0 ─┐
//            ├─ up0 (macvlan parent) ══ veth ══ lan0 [gw] 2001:db8:1::1
//   [b] mv0 ─┘
//
// The held address is added with `nodad`, as keepalived and the holder's actions add it: no
// duplicate address detection runs for it, so a second holder is not hidden by a "dadfailed"
// address; the link-local addresses are unique (one MAC each), and their DAD is waited for.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { CommandRunner } from "../src/redirect/command-runner.ts";
import { createCommandRunner, namespaceRunner } from "../src/redirect/command-runner.ts";
import { linkAddress, ndpProbe, startGatewayCheck } from "../src/ha/gateway-check.ts";
import type { HaLogMessage, HaLogRecord } from "../src/ha/ha-log.ts";
import type { SplitBrainGuard } from "../src/ha/split-brain.ts";
import { startSplitBrainGuard } from "../src/ha/split-brain.ts";
import { waitFor as pollFor } from "./helpers/net.ts";
import { privilegedNeeding } from "./helpers/privileged.ts";

const GATEWAY = "2001:db8:1::1";
const SOURCE = "2001:db8:1::99";
const DEV = "mv0";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const waitFor = (what: string, ms: number, f: () => boolean) =>
  pollFor(what, () => (f() ? true : undefined), ms, 50);

describe(
  "active/standby checks over IPv6 (ndisc6, namespaces)",
  privilegedNeeding([{ program: "ndisc6", debianPackage: "ndisc6" }]),
  () => {
    const host = createCommandRunner({ env: process.env });
    const prefix = `erndp-${process.pid}-${randomBytes(3).toString("hex")}`;
    const ns = { lan: `${prefix}-lan`, a: `${prefix}-a`, b: `${prefix}-b`, gw: `${prefix}-gw` };
    const made: string[] = [];
    const inNs = (name: string): CommandRunner => namespaceRunner(host, name);
    const a = inNs(ns.a);
    const b = inNs(ns.b);
    const gw = inNs(ns.gw);
    const macs = { a: "", b: "", gw: "" };

    /** No tentative address left on the interface (link-local DAD done). */
    const settled = async (r: CommandRunner, dev: string) => {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const j = await r.run(["ip", "-j", "-6", "address", "show", "dev", dev]);
        const infos = (JSON.parse(j.stdout) as { addr_info?: { tentative?: boolean }[] }[])[0]
          ?.addr_info;
        if (infos && infos.length > 0 && infos.every((i) => i.tentative !== true)) return;
        if (Date.now() > deadline) throw new Error(`${dev}: addresses still tentative`);
        await sleep(100);
      }
    };

    before(async () => {
      for (const name of Object.values(ns)) {
        await host.run(["ip", "netns", "add", name]);
        made.push(name);
      }
      const lan = inNs(ns.lan);
      await lan.run(["ip", "link", "add", "up0", "type", "veth", "peer", "name", "lan0"]);
      await lan.run(["ip", "link", "set", "lan0", "netns", ns.gw]);
      await lan.run(["ip", "link", "set", "up0", "up"]);
      for (const [name, r] of [
        [ns.a, a],
        [ns.b, b],
      ] as const) {
        await lan.run(["ip", "link", "add", "link", "up0", "name", DEV, "type", "macvlan"]);
        await lan.run(["ip", "link", "set", "dev", DEV, "type", "macvlan", "mode", "bridge"]);
        await lan.run(["ip", "link", "set", DEV, "netns", name]);
        await r.run(["ip", "link", "set", DEV, "up"]);
      }
      await gw.run(["ip", "link", "set", "lan0", "up"]);
      await gw.run(["ip", "address", "add", `${GATEWAY}/64`, "dev", "lan0", "nodad"]);
      await Promise.all([settled(a, DEV), settled(b, DEV), settled(gw, "lan0")]);
      macs.a = await linkAddress(a, DEV);
      macs.b = await linkAddress(b, DEV);
      macs.gw = await linkAddress(gw, "lan0");
    });

    after(async () => {
      for (const name of made.reverse()) {
        await host.run(["ip", "netns", "delete", name]).catch(() => undefined);
      }
    });

    const hold = (r: CommandRunner) =>
      r.run(["ip", "address", "replace", `${SOURCE}/64`, "dev", DEV, "nodad"]);
    const drop = (r: CommandRunner) =>
      r.run(["ip", "address", "del", `${SOURCE}/64`, "dev", DEV], { okCodes: [0, 2] });

    it("a neighbour solicitation finds the gateway from a standby with only a link-local address, and nobody for an unused address", async () => {
      const j = await a.run(["ip", "-j", "-6", "address", "show", "dev", DEV]);
      assert.doesNotMatch(j.stdout, /2001:db8/, "the standby has no global address");
      assert.deepEqual(await ndpProbe(a, DEV, GATEWAY, 1), { answered: true, peer: macs.gw });
      assert.deepEqual(await ndpProbe(a, DEV, "2001:db8:1::7", 1), {
        answered: false,
        peer: undefined,
      });
      await assert.rejects(ndpProbe(a, "nosuch0", GATEWAY, 1), /ndisc6.*exit code 1/);
    });

    it("a holder alone on the LAN is not 'another host': its own kernel's answer is left out", async () => {
      await hold(a);
      try {
        // on a macvlan in bridge mode the solicitation loops back through the parent, and the
        // kernel's own advertisement comes back with it: ndisc6 alone reports our own MAC
        const raw = await a.run(["ndisc6", "-m", "-n", "-r", "1", "-w", "1000", SOURCE, DEV], {
          okCodes: [0, 2],
        });
        assert.ok(raw.stdout.toLowerCase().includes(macs.a), `our own answer: ${raw.stdout}`);
        const p = await ndpProbe(a, DEV, SOURCE, 1, macs.a);
        assert.deepEqual(p, { answered: false, peer: undefined }, `ndisc6 said: ${raw.stdout}`);
        // and with a second holder, that one is found (from the held address's own host)
        await hold(b);
        assert.deepEqual(await ndpProbe(a, DEV, SOURCE, 1, macs.a), {
          answered: true,
          peer: macs.b,
        });
      } finally {
        await drop(a);
        await drop(b);
      }
    });

    it("gateway check over IPv6: the gateway gone is a fault (after 3 misses), back is recovered", async () => {
      const changes: [boolean, string][] = [];
      const check = startGatewayCheck({
        runner: a,
        egressInterface: DEV,
        gateway: GATEWAY,
        intervalMs: 300,
        onChange: (reachable, detail) => void changes.push([reachable, detail]),
      });
      try {
        await sleep(1500);
        assert.deepEqual(changes, [], "the gateway answers: no change");
        assert.equal(check.reachable, true);
        await gw.run(["ip", "address", "del", `${GATEWAY}/64`, "dev", "lan0"]);
        await waitFor("the gateway gone", 20_000, () => changes.length > 0);
        assert.deepEqual(changes[0], [false, "no NDP answer (3 times in a row)"]);
        assert.equal(check.reachable, false);
        await gw.run(["ip", "address", "add", `${GATEWAY}/64`, "dev", "lan0", "nodad"]);
        await waitFor("the gateway back", 20_000, () => changes.length > 1);
        assert.deepEqual(changes[1], [true, "answered NDP"]);
        assert.equal(check.reachable, true);
      } finally {
        check.stop();
      }
    });

    it("split-brain over IPv6: the replica that took the address second stands down, and comes back once the first is gone", async () => {
      type Lines = { msg: HaLogMessage; f: HaLogRecord | undefined }[];
      const replica = (r: CommandRunner) => {
        const w = {
          holding: false,
          standDowns: [] as boolean[],
          announced: 0,
          lines: [] as Lines,
          guard: undefined as SplitBrainGuard | undefined,
        };
        const start = async () => {
          w.guard = await startSplitBrainGuard({
            runner: r,
            egressInterface: DEV,
            address: SOURCE,
            vrid: 42,
            intervalMs: 300,
            // the lease (1 s here) plus a margin, as the router computes it
            confirmMs: 1500,
            isHolder: () => w.holding,
            // as keepalived does in fault: the address goes
            standDown: async (on) => {
              w.standDowns.push(on);
              if (on) {
                w.holding = false;
                await drop(r);
              }
            },
            announce: () => void (w.announced += 1),
            log: (_level, msg, f) => void w.lines.push({ msg, f }),
            backoffMs: 100,
          });
        };
        const takeOver = async () => {
          await hold(r);
          w.holding = true;
          w.guard?.tookOver();
        };
        return { w, start, takeOver };
      };
      const first = replica(a);
      const second = replica(b);
      try {
        await first.start();
        await second.start();
        await first.takeOver();
        await sleep(1000); // uncontested probes: the first holder held it alone
        assert.equal(first.w.guard?.status().state, "clear");
        await second.takeOver(); // VRRP did not pass: a second holder
        await waitFor("the second holder to stand down", 20_000, () =>
          second.w.standDowns.includes(true),
        );
        const st = second.w.guard?.status();
        assert.equal(st?.state, "standing-down");
        assert.equal(st?.peer, macs.a, "the other holder's MAC");
        const line = second.w.lines.find((l) => l.msg === "second holder of the source address");
        assert.equal(line?.f?.action, "standing-down");
        assert.deepEqual(first.w.standDowns, [], "the first holder keeps it");
        assert.equal(first.w.holding, true);
        // only the first one answers for the address now
        assert.deepEqual(await ndpProbe(gw, "lan0", SOURCE, 1, macs.gw), {
          answered: true,
          peer: macs.a,
        });
        await sleep(1000);
        assert.deepEqual(second.w.standDowns, [true], "it stays out while the first answers");
        // the first holder dies (its address goes with its lease): the second comes back
        first.w.holding = false;
        await drop(a);
        await waitFor("the second to come back", 20_000, () => second.w.standDowns.length > 1);
        assert.deepEqual(second.w.standDowns, [true, false]);
        assert.equal(second.w.guard?.status().state, "clear");
      } finally {
        await first.w.guard?.stop();
        await second.w.guard?.stop();
        await drop(a);
        await drop(b);
      }
    });
  },
);

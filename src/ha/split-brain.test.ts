// The split-brain guard's decisions, with scripted ARP answers and VRRP counters (the real
// thing, two replicas that cannot hear each other, runs in test/ha-takeover.test.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RecordingRunner } from "../redirect/recording-runner.ts";
import type { HaLogMessage, HaLogRecord } from "./ha-log.ts";
import { parseVrrpCounter, renderVrrpCounter, startSplitBrainGuard } from "./split-brain.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, f: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function world(opts: { holder: boolean; answering: boolean }) {
  const w = {
    holder: opts.holder,
    answering: opts.answering,
    vrrp: 0,
    standDowns: [] as boolean[],
    announced: 0,
    detected: [] as boolean[],
    lines: [] as { msg: HaLogMessage; f: HaLogRecord | undefined }[],
  };
  const runner = new RecordingRunner((argv) => {
    if (argv[0] === "arping") {
      return w.answering
        ? { code: 1, stdout: "Unicast reply from 198.51.100.99 [02:AA:00:00:00:02]  0.6ms\n" }
        : { code: 0 };
    }
    if (argv[1] === "-j") {
      return {
        stdout: JSON.stringify({
          nftables: [{ rule: { expr: [{ counter: { packets: w.vrrp, bytes: 0 } }] } }],
        }),
      };
    }
    return undefined;
  });
  const start = () =>
    startSplitBrainGuard({
      runner,
      egressInterface: "macvlan0",
      address: "198.51.100.99",
      vrid: 42,
      intervalMs: 10,
      confirmMs: 60,
      isHolder: () => w.holder,
      standDown: (on) => {
        w.standDowns.push(on);
        if (on) w.holder = false;
        return Promise.resolve();
      },
      announce: () => void (w.announced += 1),
      log: (_level, msg, f) => void w.lines.push({ msg, f }),
      onDetected: (d) => void w.detected.push(d),
      backoffMs: 20,
      random: () => 0.5,
    });
  return { w, runner, start };
}

describe("split-brain guard", () => {
  it("renders the VRRP counter for the virtual router on the egress interface", () => {
    assert.match(
      renderVrrpCounter("macvlan0", 42),
      /add rule inet egress_router_ha vrrp iifname "macvlan0" meta l4proto 112 @th,8,8 42 fib saddr \. iif type != local counter\n$/,
    );
    assert.equal(
      parseVrrpCounter(
        '{"nftables":[{"metainfo":{}},{"rule":{"expr":[{"match":{}},{"counter":{"packets":7,"bytes":280}}]}}]}',
      ),
      7,
    );
  });

  it("the replica that took the address while another held it stands down", async () => {
    const { w, start } = world({ holder: true, answering: true });
    const g = await start();
    g.tookOver();
    await until("a stand-down", () => w.standDowns.length > 0);
    assert.deepEqual(w.standDowns, [true]);
    assert.deepEqual(w.detected, [true]);
    const line = w.lines.find((l) => l.msg === "second holder of the source address");
    assert.equal(line?.f?.action, "standing-down");
    assert.equal(line?.f?.peer, "02:aa:00:00:00:02");
    assert.equal(g.status().state, "standing-down");
    await g.stop();
  });

  it("the replica that held it first keeps it, and announces it again once the other let go", async () => {
    const { w, start } = world({ holder: true, answering: false });
    const g = await start();
    g.tookOver();
    await sleep(40); // uncontested probes first
    w.answering = true;
    await until("a detection", () => w.detected.length > 0);
    assert.equal(g.status().state, "keeping");
    assert.deepEqual(w.standDowns, []);
    w.answering = false;
    await until("the other gone", () => w.announced > 0);
    assert.deepEqual(w.detected, [true, false]);
    assert.ok(w.lines.some((l) => l.msg === "second holder gone"));
    await g.stop();
  });

  it("a dying holder answering for less than the lease is no split-brain", async () => {
    const { w, start } = world({ holder: true, answering: true });
    const g = await start();
    g.tookOver();
    await sleep(30); // shorter than confirmMs: the old holder's address expired
    w.answering = false;
    await sleep(120);
    assert.deepEqual(w.detected, []);
    assert.deepEqual(w.standDowns, []);
    assert.equal(g.status().state, "clear");
    // it may still be in the LAN's caches: the holder announced the address again
    assert.equal(w.announced, 1);
    await g.stop();
  });

  it("a replica that stood down stays out while the other answers, and returns when VRRP is heard", async () => {
    const { w, start } = world({ holder: true, answering: true });
    const g = await start();
    g.tookOver();
    await until("a stand-down", () => w.standDowns.length > 0);
    await sleep(100);
    assert.deepEqual(w.standDowns, [true], "still out: the other holder answers");
    w.vrrp += 3; // the partition healed: advertisements arrive
    await until("the comeback", () => w.standDowns.length > 1);
    assert.deepEqual(w.standDowns, [true, false]);
    assert.ok(w.lines.some((l) => l.msg === "VRRP heard again"));
    assert.deepEqual(w.detected, [true, false]);
    await g.stop();
  });

  it("a replica that stood down returns when nobody answers for the address any more", async () => {
    const { w, start } = world({ holder: true, answering: true });
    const g = await start();
    g.tookOver();
    await until("a stand-down", () => w.standDowns.length > 0);
    w.answering = false; // the other holder died
    await until("the comeback", () => w.standDowns.length > 1);
    assert.deepEqual(w.standDowns, [true, false]);
    assert.equal(g.status().state, "clear");
    await g.stop();
  });

  it("without the VRRP counter it still works, and says so", async () => {
    const { w, runner, start } = world({ holder: false, answering: false });
    const failing = new RecordingRunner((argv) =>
      argv[0] === "nft" ? { code: 1, stderr: "no nft" } : undefined,
    );
    Object.assign(runner, { run: failing.run.bind(failing) });
    const g = await start();
    assert.equal(g.status().vrrpCounter, false);
    assert.ok(w.lines.some((l) => l.msg === "split-brain check unavailable"));
    await g.stop();
  });

  it("IPv6: solicits with ndisc6 and leaves its own interface's answers out", async () => {
    const lines: HaLogMessage[] = [];
    let other = false;
    const standDowns: boolean[] = [];
    let holder = true;
    const own = "Target link-layer address: 02:AA:00:00:00:01\n from 2001:db8::99\n";
    const theirs = "Target link-layer address: 02:BB:00:00:00:02\n from 2001:db8::99\n";
    const runner = new RecordingRunner((argv) => {
      if (argv[0] === "ndisc6") return { stdout: own + (other ? theirs : "") };
      if (argv.join(" ") === "ip -j link show dev macvlan0")
        return { stdout: '[{"ifname":"macvlan0","address":"02:aa:00:00:00:01"}]' };
      return undefined;
    });
    const g = await startSplitBrainGuard({
      runner,
      egressInterface: "macvlan0",
      address: "2001:db8::99",
      vrid: 42,
      intervalMs: 10,
      confirmMs: 60,
      isHolder: () => holder,
      standDown: (on) => {
        standDowns.push(on);
        if (on) holder = false;
        return Promise.resolve();
      },
      announce: () => {},
      log: (_level, msg) => void lines.push(msg),
    });
    g.tookOver();
    await sleep(150);
    assert.equal(g.status().state, "clear", "our own answers are no second holder");
    assert.deepEqual(standDowns, []);
    other = true;
    await until("a detection", () => g.status().state === "keeping");
    assert.equal(g.status().peer, "02:bb:00:00:00:02");
    assert.ok(runner.lines().includes("ndisc6 -m -n -r 1 -w 1000 2001:db8::99 macvlan0"));
    assert.ok(!runner.lines().some((l) => l.startsWith("arping")));
    await g.stop();
  });
});

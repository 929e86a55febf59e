// The holder's actions and their order, with a recording runner (the real commands run in
// test/ha-takeover.test.ts): what a takeover, a loss of the role and a handover do to the
// kernel, and when readiness changes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RecordingRunner } from "../redirect/recording-runner.ts";
import type { Election, RoleChange, StepDownReason } from "./election.ts";
import type { HolderKernel } from "./holder.ts";
import { Holder } from "./holder.ts";

const source = { address: "198.51.100.99", prefixLength: 24, family: 4 as const };
const vip = { address: "192.0.2.4", prefixLength: 24, family: 4 as const };
const source6 = { address: "2001:db8:2::99", prefixLength: 64, family: 6 as const };
const vip6 = { address: "2001:db8:1::4", prefixLength: 64, family: 6 as const };

function setup(
  answer?: (argv: readonly string[]) => { code: number } | undefined,
  v6?: { gateway: string },
) {
  const steps: string[] = [];
  const runner = new RecordingRunner((argv) => {
    steps.push(argv.join(" "));
    return answer?.(argv);
  });
  const faults: [StepDownReason, boolean][] = [];
  const election: Election = {
    engine: "fake",
    managesAddresses: true,
    start: () => Promise.resolve(),
    setFault: (reason, on) => {
      faults.push([reason, on]);
      return Promise.resolve();
    },
    stop: () => Promise.resolve(),
    status: () => ({}),
  };
  const kernel: HolderKernel = {
    restoreRoutes: () => Promise.resolve(void steps.push("routes")),
    installNat: () => Promise.resolve(void steps.push("nat")),
    standBy: () => Promise.resolve(void steps.push("standby rules")),
  };
  const h = new Holder({
    runner,
    election,
    kernel,
    addresses: v6
      ? [
          { address: source6, dev: "macvlan0", side: "egress" },
          { address: vip6, dev: "eth0", side: "cluster" },
        ]
      : [
          { address: source, dev: "macvlan0", side: "egress" },
          { address: vip, dev: "eth0", side: "cluster" },
        ],
    leaseSeconds: 3,
    ...(v6 ? { gateway: v6.gateway } : {}),
    log: () => {},
    faultHoldMs: 60_000,
  });
  const report = (role: RoleChange["role"]) =>
    h.onRole({ role, reason: `keepalived ${role}`, at: performance.now() });
  return { h, steps, faults, report };
}

describe("Holder", () => {
  it("takes over: lease the address, routes and NAT (at once), then the cluster address, then ready", async () => {
    const { h, steps, report } = setup();
    report("holder");
    assert.equal(h.ready, false, "not ready before the actions are done");
    await h.settled();
    assert.equal(h.ready, true);
    assert.deepEqual(steps.slice(0, 5), [
      "ip address change 198.51.100.99/24 dev macvlan0 valid_lft 3 preferred_lft 3",
      "routes",
      "nat",
      "ip address replace 192.0.2.4/24 dev eth0 nodad valid_lft 3 preferred_lft 3",
      "arping -q -U -c 2 -I eth0 192.0.2.4",
    ]);
    h.release().catch(() => {});
    await h.settled();
  });

  it("lets go: not ready at once, then standby rules before the cluster address goes; the egress address is the engine's", async () => {
    const { h, steps, report } = setup();
    report("holder");
    await h.settled();
    steps.length = 0;
    report("standby");
    assert.equal(h.ready, false, "readiness drops synchronously");
    await h.settled();
    assert.deepEqual(steps, ["standby rules", "ip address del 192.0.2.4/24 dev eth0"]);
  });

  it("a takeover without the address gives the role up (takeover-failed)", async () => {
    const { h, faults, report } = setup((argv) => (argv[2] === "change" ? { code: 2 } : undefined));
    report("holder");
    await h.settled();
    assert.equal(h.ready, false);
    assert.deepEqual(faults, [["takeover-failed", true]]);
    await h.release();
  });

  it("a takeover overtaken by the next report does nothing more and no step-down", async () => {
    const { h, steps, faults, report } = setup((argv) =>
      argv[2] === "change" ? { code: 2 } : undefined,
    );
    report("holder");
    report("standby");
    await h.settled();
    assert.equal(h.ready, false);
    assert.deepEqual(faults, []);
    assert.ok(!steps.includes("nat"), steps.join(" | "));
  });

  it("a handover puts the standby rules in before the cluster address goes, and ignores a later holder report", async () => {
    const { h, steps, report } = setup();
    report("holder");
    await h.settled();
    steps.length = 0;
    await h.beginHandover();
    assert.equal(h.ready, false);
    assert.deepEqual(steps, ["standby rules", "ip address del 192.0.2.4/24 dev eth0"]);
    steps.length = 0;
    report("holder");
    await h.settled();
    assert.equal(h.ready, false);
    assert.deepEqual(steps, []);
  });

  it("release (start-up clean-up, shutdown) also removes the engine's address", async () => {
    const { h, steps } = setup();
    await h.release();
    assert.deepEqual(steps, [
      "standby rules",
      "ip address del 192.0.2.4/24 dev eth0",
      "ip address del 198.51.100.99/24 dev macvlan0",
    ]);
  });

  it("announces an IPv6 egress address again by soliciting the gateway from it (its cache takes our MAC)", async () => {
    const { h, steps, report } = setup(undefined, { gateway: "2001:db8:2::1" });
    report("holder");
    await h.settled();
    steps.length = 0;
    h.announce();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(steps, ["ndisc6 -q -n -r 1 -w 1000 -s 2001:db8:2::99 2001:db8:2::1 macvlan0"]);
    await h.release();
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Upstream } from "./upstream-pool.ts";
import { UpstreamPool } from "./upstream-pool.ts";

const t0 = 1_000_000;

function pool(addresses: string[], balance: "round-robin" | "least-connections" = "round-robin") {
  const p = new UpstreamPool("db.example.com:5432", 5432, balance, false);
  p.setAddresses(addresses);
  return p;
}

function picks(p: UpstreamPool, n: number, now = t0): (string | undefined)[] {
  return Array.from({ length: n }, () => p.pick([], now)?.address);
}

describe("UpstreamPool", () => {
  it("round robin goes through every address in turn", () => {
    assert.deepEqual(picks(pool(["192.0.2.1", "192.0.2.2", "2001:db8::3"]), 4), [
      "192.0.2.1",
      "192.0.2.2",
      "2001:db8::3",
      "192.0.2.1",
    ]);
  });

  it("knows each address's family", () => {
    assert.deepEqual(
      pool(["192.0.2.1", "2001:db8::3"]).upstreams.map((u) => u.family),
      [4, 6],
    );
  });

  it("skips addresses already tried for this connection", () => {
    const p = pool(["192.0.2.1", "192.0.2.2"]);
    const first = p.pick([], t0) as Upstream;
    assert.equal(p.pick([first], t0)?.address, "192.0.2.2");
    assert.equal(p.pick([first, p.upstreams[1] as Upstream], t0), undefined);
  });

  it("skips a failed address for a backoff that doubles, then tries it again", () => {
    const p = pool(["192.0.2.1", "192.0.2.2"]);
    const u = p.upstreams[0] as Upstream;
    assert.equal(p.markFailed(u, t0, "ECONNREFUSED", 1000, 30_000), true);
    assert.deepEqual(picks(p, 2, t0 + 999), ["192.0.2.2", "192.0.2.2"]);
    assert.equal(p.usable(u, t0 + 1000), true, "backoff over: may be probed");
    assert.equal(p.markFailed(u, t0 + 1000, "ECONNREFUSED", 1000, 30_000), true);
    assert.equal(u.downUntil, t0 + 1000 + 2000);
    let now = u.downUntil;
    for (let i = 0; i < 10; i++) {
      now = u.downUntil;
      p.markFailed(u, now, "ECONNREFUSED", 1000, 30_000);
    }
    assert.equal(u.failures, 12);
    assert.equal(u.downUntil - now, 30_000, "capped at the maximum");
  });

  it("counts a burst of failures while already down once", () => {
    const p = pool(["192.0.2.1"]);
    const u = p.upstreams[0] as Upstream;
    assert.equal(p.markFailed(u, t0, "ECONNREFUSED", 1000, 30_000), true);
    assert.equal(p.markFailed(u, t0 + 5, "ECONNREFUSED", 1000, 30_000), false);
    assert.equal(p.markFailed(u, t0 + 9, "ECONNREFUSED", 1000, 30_000), false);
    assert.equal(u.failures, 1);
    assert.equal(u.downUntil, t0 + 1000);
  });

  it("with active checks, a down address waits for a passing check, not its backoff", () => {
    const p = new UpstreamPool("k", 80, "round-robin", true);
    p.setAddresses(["192.0.2.1"]);
    const u = p.upstreams[0] as Upstream;
    p.markFailed(u, t0, "ECONNREFUSED", 1000, 30_000);
    assert.equal(p.allDown(t0 + 60_000), true);
    assert.equal(p.markUp(u), true);
    assert.equal(p.allDown(t0 + 60_000), false);
  });

  it("least connections picks the address with the fewest open connections", () => {
    const p = pool(["192.0.2.1", "192.0.2.2", "192.0.2.3"], "least-connections");
    const [a, b, c] = p.upstreams as Upstream[];
    Object.assign(a ?? {}, { active: 3 });
    Object.assign(b ?? {}, { active: 1 });
    Object.assign(c ?? {}, { active: 2 });
    assert.equal(p.pick([], t0)?.address, "192.0.2.2");
  });

  it("least connections spreads ties in turn", () => {
    assert.deepEqual(picks(pool(["192.0.2.1", "192.0.2.2"], "least-connections"), 3), [
      "192.0.2.1",
      "192.0.2.2",
      "192.0.2.1",
    ]);
  });

  it("keeps the state of addresses that stay when the set changes; new ones start up", () => {
    const p = pool(["192.0.2.1", "192.0.2.2"]);
    const kept = p.upstreams[1] as Upstream;
    p.markFailed(kept, t0, "ECONNREFUSED", 1000, 30_000);
    kept.active = 2;
    p.setAddresses(["192.0.2.2", "192.0.2.9"]);
    assert.equal(p.upstreams[0], kept);
    assert.deepEqual(
      p.upstreams.map((u) => [u.address, u.up, u.active]),
      [
        ["192.0.2.2", false, 2],
        ["192.0.2.9", true, 0],
      ],
    );
  });

  it("mirrors another thread's states", () => {
    const main = pool(["192.0.2.1", "192.0.2.2"]);
    main.markFailed(main.upstreams[0] as Upstream, t0, "ETIMEDOUT", 1000, 30_000);
    const mirror = pool([]);
    mirror.applyStates(main.states());
    assert.deepEqual(mirror.states(), main.states());
    assert.equal(mirror.pick([], t0)?.address, "192.0.2.2");
  });

  it("has nothing to pick when empty", () => {
    const p = pool([]);
    assert.equal(p.pick([], t0), undefined);
    assert.equal(p.allDown(t0), true);
  });
});

// NameWatcher's timing rules with a scripted lookup function (the socket tests under test/
// run it against a real dnsmasq; here the answers and failures are scripted so TTL bounds
// and the stale window can be checked exactly and quickly).
import assert from "node:assert/strict";
import diagnostics_channel from "node:diagnostics_channel";
import { describe, it } from "node:test";
import type { ResolveEvent } from "../observe/events.ts";
import { defaultForwardOptions } from "./forward-config.ts";
import type { Answer } from "./lookup-name.ts";
import { LookupError } from "./lookup-name.ts";
import { NameWatcher } from "./name-watcher.ts";

type Step = Answer | LookupError;

function scripted(steps: Step[]) {
  const calls: number[] = [];
  const lookup = (): Promise<Answer> => {
    calls.push(Date.now());
    const s = steps.length > 1 ? steps.shift() : steps[0];
    return s instanceof LookupError || s === undefined
      ? Promise.reject(s ?? new LookupError("ENOTFOUND", "none"))
      : Promise.resolve(s);
  };
  return { lookup, calls };
}

const options = {
  ...defaultForwardOptions.resolver,
  minTtlMs: 100,
  maxTtlMs: 400,
  staleMs: 300,
};
const timeout = new LookupError("ETIMEOUT", "db.example.com: no answer from the DNS servers");

function watch(steps: Step[], opts = options) {
  const { lookup, calls } = scripted(steps);
  const changes: (readonly string[])[] = [];
  const w = new NameWatcher("db.example.com", lookup, opts, (a) => changes.push(a));
  return { w, calls, changes };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until `check()` holds (polling), for at most `capMs`. Timing is asserted on the
 * recorded times of the lookups, not on how long the test slept: a busy machine delays
 * timers, never hastens them, so lower bounds hold however busy it is, and upper bounds
 * are kept far from the values that would mean a wrong rule.
 */
async function until(check: () => boolean, what: string, capMs = 30_000): Promise<void> {
  const deadline = Date.now() + capMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await wait(10);
  }
}

describe("NameWatcher", () => {
  it("reports the first answer and re-resolves at the TTL, kept within bounds", async (t) => {
    // TTL 0 → the minimum (100 ms); TTL 3600 → the maximum (2 s).
    const { w, calls, changes } = watch(
      [
        { addresses: ["192.0.2.1"], ttlSeconds: 0 },
        { addresses: ["192.0.2.1"], ttlSeconds: 3600 },
        { addresses: ["192.0.2.1"], ttlSeconds: 3600 },
      ],
      { ...options, maxTtlMs: 2000 },
    );
    t.after(() => w.stop());
    await w.start();
    assert.deepEqual(changes, [["192.0.2.1"]]);
    assert.equal(w.status().state, "ok");
    await until(() => calls.length >= 3, "two more lookups");
    const gaps = calls.slice(1).map((c, i) => c - (calls[i] ?? 0));
    assert.ok((gaps[0] ?? 0) >= 90 && (gaps[0] ?? 0) < 1500, `min bound: ${gaps.join()}`);
    assert.ok((gaps[1] ?? 0) >= 1990, `max bound: ${gaps.join()}`);
    assert.deepEqual(changes, [["192.0.2.1"]], "same answer: no change reported");
  });

  it("reports a changed set, but not a reordered one", async (t) => {
    const { w, changes } = watch([
      { addresses: ["192.0.2.1", "192.0.2.2"], ttlSeconds: 0 },
      { addresses: ["192.0.2.2", "192.0.2.1"], ttlSeconds: 0 },
      { addresses: ["192.0.2.3"], ttlSeconds: 60 },
    ]);
    t.after(() => w.stop());
    await w.start();
    await until(() => changes.length >= 2, "the changed answer");
    assert.deepEqual(changes, [["192.0.2.1", "192.0.2.2"], ["192.0.2.3"]]);
  });

  it("keeps the last good answer for the stale time when DNS fails, then drops it", async (t) => {
    const events: ResolveEvent[] = [];
    const onResolve = (m: unknown) => events.push(m as ResolveEvent);
    diagnostics_channel.subscribe("egress-router:resolve", onResolve);
    t.after(() => diagnostics_channel.unsubscribe("egress-router:resolve", onResolve));
    // A stale time of 2 s: the stale state is seen long before it ends, however busy the
    // machine; the lookups' own times say when the answer was dropped (one event each).
    const { w, calls, changes } = watch([{ addresses: ["192.0.2.1"], ttlSeconds: 0 }, timeout], {
      ...options,
      staleMs: 2000,
    });
    t.after(() => w.stop());
    await w.start();
    await until(() => w.status().state !== "ok", "the failed lookup");
    assert.equal(w.status().state, "stale");
    assert.deepEqual(w.status().addresses, ["192.0.2.1"]);
    assert.equal(w.status().error, timeout.message);
    // Retries back off (1 s, 2 s… here capped by the 400 ms maximum TTL); past the stale
    // time the answer is dropped.
    await until(() => w.status().state === "failed", "the answer dropped");
    assert.deepEqual(changes, [["192.0.2.1"], []]);
    assert.deepEqual(
      events.slice(0, 2).map((e) => [e.ok, e.stale, e.addresses.length]),
      [
        [true, false, 1],
        [false, true, 1],
      ],
    );
    // Stale failures while the answer is kept, then failures without it (the first is the drop).
    const drop = events.findIndex((e) => !e.ok && !e.stale);
    assert.ok(drop >= 2, `dropped after the stale failures (${drop})`);
    const keptFor = (calls[drop] ?? 0) - (calls[0] ?? 0);
    assert.ok(
      keptFor >= 1990,
      `kept for the stale time since the last good answer (${keptFor} ms)`,
    );
    assert.ok(events.slice(1, drop).every((e) => !e.ok && e.stale && e.addresses.length === 1));
    assert.ok(events.slice(drop).every((e) => !e.ok && !e.stale && e.addresses.length === 0));
  });

  it("refreshSoon asks again early, but not more often than the minimum TTL", async (t) => {
    const { w, calls } = watch([{ addresses: ["192.0.2.1"], ttlSeconds: 3600 }], {
      ...options,
      minTtlMs: 200,
      maxTtlMs: 60_000,
    });
    t.after(() => w.stop());
    await w.start();
    w.refreshSoon();
    w.refreshSoon();
    await until(() => calls.length >= 2, "the early lookup");
    await wait(300);
    assert.equal(calls.length, 2, "asked once for both");
    const gap = (calls[1] ?? 0) - (calls[0] ?? 0);
    assert.ok(gap >= 190, `not before the minimum TTL since the last lookup (${gap} ms)`);
    assert.ok(gap < 30_000, `early: long before the TTL and the maximum (${gap} ms)`);
  });

  it("stops: no lookups after stop()", async () => {
    const { w, calls } = watch([{ addresses: ["192.0.2.1"], ttlSeconds: 0 }]);
    await w.start();
    w.stop();
    await wait(250);
    assert.equal(calls.length, 1);
  });
});

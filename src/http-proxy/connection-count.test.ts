import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  connectionCountBytes,
  localConnectionCount,
  openConnections,
  releaseThreadConnections,
  sharedConnectionCount,
} from "./connection-count.ts";

describe("connection counts", () => {
  it("one thread: refuses at the limit, has room again after a close", () => {
    const c = localConnectionCount();
    assert.deepEqual([c.tryOpen(2), c.tryOpen(2), c.tryOpen(2)], [true, true, false]);
    c.closed();
    assert.equal(c.tryOpen(2), true);
  });

  it("threads share one limit, whichever thread holds the connections", () => {
    const buffer = new SharedArrayBuffer(connectionCountBytes(2));
    const a = sharedConnectionCount(buffer, 0);
    const b = sharedConnectionCount(buffer, 1);
    // 3 on one thread and none on the other is fine under a limit of 3 (no per-thread share)
    assert.deepEqual([a.tryOpen(3), a.tryOpen(3), a.tryOpen(3)], [true, true, true]);
    assert.equal(b.tryOpen(3), false);
    assert.equal(a.tryOpen(3), false);
    assert.equal(openConnections(buffer), 3, "a refusal leaves the count as it was");
    a.closed();
    assert.equal(b.tryOpen(3), true);
    assert.equal(openConnections(buffer), 3);
  });

  it("what a thread that ended held no longer counts", () => {
    const buffer = new SharedArrayBuffer(connectionCountBytes(2));
    const a = sharedConnectionCount(buffer, 0);
    const b = sharedConnectionCount(buffer, 1);
    a.tryOpen(4);
    a.tryOpen(4);
    b.tryOpen(4);
    releaseThreadConnections(buffer, 0);
    assert.equal(openConnections(buffer), 1);
    const again = sharedConnectionCount(buffer, 0); // its replacement
    assert.deepEqual(
      [again.tryOpen(4), again.tryOpen(4), again.tryOpen(4), b.tryOpen(4)],
      [true, true, true, false],
    );
  });
});

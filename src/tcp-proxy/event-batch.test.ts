import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ConnectionCloseEvent, UpstreamHealthEvent } from "../observe/events.ts";
import { EventBatch, decodeEvents } from "./event-batch.ts";

describe("EventBatch", () => {
  it("carries events to the other thread unchanged, undefined fields included", () => {
    const close: ConnectionCloseEvent = {
      mode: "dns-proxy",
      listener: "5432",
      client: "[2001:db8::10]:40000",
      destination: "db.example.com:5432",
      address: undefined,
      ruleLine: 3,
      bytesFromClient: 0,
      bytesToClient: 12,
      durationMs: 7,
      end: "connect-failed",
    };
    const health: UpstreamHealthEvent = {
      mode: "dns-proxy",
      destination: "db.example.com:5432",
      address: "192.0.2.7",
      up: false,
      cause: "connect",
      error: "refused",
      retryAt: 1_800_000_000_000,
    };
    const b = new EventBatch();
    b.add("connectionClose", close);
    b.add("upstreamHealth", health);
    b.add("connectLatency", { mode: "dns-proxy", seconds: 0.0015 });
    assert.equal(b.size, 3);
    const text = b.take();
    assert.equal(b.size, 0);
    assert.deepEqual(decodeEvents(text), [
      ["connectionClose", close],
      ["upstreamHealth", health],
      ["connectLatency", { mode: "dns-proxy", seconds: 0.0015 }],
    ]);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import {
  publishDecision,
  publishUpstreamError,
  type DecisionEvent,
  type UpstreamErrorEvent,
} from "./events.ts";
import {
  createLogger,
  fields,
  isoTime,
  jsonLine,
  subscribeLogs,
  type LogMessage,
  type LogRecord,
} from "./log.ts";

describe("log line parts", () => {
  it("isoTime writes what pino's isoTime writes, to the millisecond", () => {
    const stamps = [
      0, 7, 999, 1000, 1_764_000_000_000, 1_764_000_000_009, 1_764_000_000_099, 1_764_000_059_999,
      4_102_444_799_999,
    ];
    for (const t of [...stamps, Date.now()]) {
      assert.equal(isoTime(t), `,"time":"${new Date(t).toISOString()}"`, String(t));
    }
    assert.equal(pino.stdTimeFunctions.isoTime().length, isoTime().length);
  });

  it("fields keeps known fields, drops undefined, redacts strings", () => {
    assert.deepEqual(
      fields({
        client: "1.2.3.4:5",
        destination: "http://u:p@example.com/?q=1",
        address: undefined,
        rule_line: 3,
      }),
      {
        client: "1.2.3.4:5",
        destination: "http://[redacted]@example.com/?[redacted]",
        rule_line: 3,
      },
    );
  });
});

describe("jsonLine", () => {
  it("is the line pino writes, byte for byte (time aside)", () => {
    let captured = "";
    const logger = createLogger({
      format: "json",
      level: "debug",
      dnsProxyDebug: false,
      destination: { write: (l: string) => (captured += l) },
    });
    const records: [string, LogMessage, LogRecord][] = [
      [
        "info",
        "connection decided",
        {
          event: "decision",
          mode: "http-proxy",
          client: "127.0.0.1:5",
          destination: "a.example:443",
          address: "203.0.113.5",
          action: "allow",
          reason: "host-matched",
          rule_line: 2,
          audit: false,
        },
      ],
      [
        "warn",
        "connection decided",
        {
          event: "decision",
          mode: "http-proxy",
          client: "[2001:db8::1]:5",
          destination: "x:1",
          address: undefined,
          action: "deny",
          reason: "no-rule-matched",
          rule_line: undefined,
          audit: true,
        },
      ],
      [
        "info",
        "connection closed",
        {
          event: "connection-close",
          mode: "http-proxy",
          listener: "8080",
          client: "1.2.3.4:5",
          bytes_from_client: 0,
          bytes_to_client: 123456789,
          duration_ms: 0,
          end: "done",
        },
      ],
      [
        "error",
        "config reload rejected",
        {
          event: "reload",
          problems: ['line 1: Cannot use "a\\b": tab\there', "b\u00e9\u2028\n"],
          result: "rejected",
        },
      ],
      [
        "warn",
        "upstream connect failed",
        {
          destination: "http://u:p@h/?q",
          error: 'quote " backslash \\ ctl \u0001',
          kind: "other",
          duration_ms: Number.NaN,
        },
      ],
    ];
    for (const [level, msg, rec] of records) {
      captured = "";
      (logger[level as "info"] as (o: object, m: string) => void)(fields(rec), msg);
      const fromPino = captured;
      const ours = jsonLine(level, msg, rec);
      const untimed = (l: string) => l.replace(/,"time":"[^"]+"/, "");
      assert.equal(untimed(ours), untimed(fromPino));
      assert.match(ours, /^\{"level":"\w+","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",/);
    }
  });
});

describe("decision lines", () => {
  it("an event published again as the same object gives the line a fresh one gives", () => {
    const lines: string[] = [];
    const logger = createLogger({
      format: "json",
      level: "info",
      dnsProxyDebug: false,
      destination: { write: (l: string) => lines.push(l) },
    });
    const unsubscribe = subscribeLogs(logger, { dnsProxyDebug: false });
    const events: DecisionEvent[] = [
      {
        mode: "http-proxy",
        client: "127.0.0.1:40000",
        destination: "api.example:443",
        address: "192.0.2.1",
        action: "allow",
        reason: "rule-allow",
        ruleLine: 2,
        audit: false,
      },
      {
        mode: "http-proxy",
        client: "[2001:db8::1]:40000",
        destination: "u:secret@evil.example:80",
        address: undefined,
        action: "deny",
        reason: "rule-deny",
        ruleLine: 1,
        audit: false,
      },
      {
        mode: "http-proxy",
        client: "127.0.0.1:40001",
        destination: "db.example:5432",
        address: "192.0.2.9",
        action: "allow",
        reason: "default-deny",
        ruleLine: undefined,
        audit: true,
      },
    ];
    const untimed = (l: string) => l.replace(/,"time":"[^"]+"/, "");
    try {
      for (const e of events) {
        lines.length = 0;
        publishDecision(e);
        publishDecision(e);
        publishDecision({ ...e });
        const expected = jsonLine(
          e.action === "deny" || e.audit ? "warn" : "info",
          "connection decided",
          {
            event: "decision",
            mode: e.mode,
            client: e.client,
            destination: e.destination,
            address: e.address,
            action: e.action,
            reason: e.reason,
            rule_line: e.ruleLine,
            audit: e.audit,
          },
        );
        assert.equal(lines.length, 3);
        for (const l of lines) assert.equal(untimed(l), untimed(expected));
        assert.doesNotMatch(lines[1] ?? "", /secret/);
      }
    } finally {
      unsubscribe();
    }
  });
});

describe("upstream connect failures", () => {
  it("the first of a kind is logged at once, its repeats in one line per window, every kind apart", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      format: "json",
      level: "info",
      dnsProxyDebug: false,
      destination: { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) },
    });
    const unsubscribe = subscribeLogs(logger, { dnsProxyDebug: false, upstreamRepeatMs: 200 });
    const fail = (kind: UpstreamErrorEvent["kind"], address = "192.0.2.1") =>
      publishUpstreamError({
        mode: "dns-proxy",
        destination: "db.example:5432",
        address,
        kind,
        message: kind,
      });
    const failures = () => lines.filter((l) => l["msg"] === "upstream connect failed");
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      for (let i = 0; i < 50; i++) fail("refused");
      fail("timeout");
      fail("refused", "192.0.2.2");
      assert.deepEqual(
        failures().map((l) => [l["kind"], l["address"], l["repeated"]]),
        [
          ["refused", "192.0.2.1", undefined],
          ["timeout", "192.0.2.1", undefined],
          ["refused", "192.0.2.2", undefined],
        ],
        "the first of each at once",
      );
      // (timers on a busy machine fire late: wait for the line, not for a fixed time)
      for (let waited = 0; failures().length < 4 && waited < 30_000; waited += 20) await sleep(20);
      assert.deepEqual(
        failures()
          .slice(3)
          .map((l) => [l["kind"], l["address"], l["repeated"]]),
        [["refused", "192.0.2.1", 49]],
        "the 49 repeats in one line when the window is over",
      );
      await sleep(1500); // windows without failures: nothing more, and the next is new again
      assert.equal(failures().length, 4);
      fail("refused");
      assert.equal(failures().length, 5, "logged at once after a quiet window");
      fail("refused");
      fail("refused");
    } finally {
      unsubscribe();
    }
    assert.equal(failures().at(-1)?.["repeated"], 2, "repeats still counted are told at the end");
  });
});

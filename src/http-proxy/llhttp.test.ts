// Pins what llhttp.ts relies on in node's internal parser binding, so a Node.js upgrade that
// changes it fails here, not in production.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  REQUEST,
  RESPONSE,
  createParser,
  isParseError,
  rawBodyLength,
  resetParser,
  RAW_BODY_MIN_BYTES,
  type RawHeaders,
} from "./llhttp.ts";

function recorder(initialReturn = 0) {
  const events: string[] = [];
  const control = { headReturn: initialReturn };
  let acc: RawHeaders = [];
  const callbacks = {
    onMessageBegin() {
      events.push("begin");
    },
    onHeaders(headers: RawHeaders, url: string) {
      acc.push(...headers);
      events.push(`partial ${url}`);
    },
    onHeadersComplete(
      major: number,
      minor: number,
      headers: RawHeaders | undefined,
      method: number | undefined,
      url: string | undefined,
      status: number | undefined,
      _message: string | undefined,
      upgrade: boolean,
      keepAlive: boolean,
    ) {
      const h = headers ?? acc;
      acc = [];
      events.push(
        `head ${major}.${minor} ${method ?? status ?? "?"} ${url ?? ""} [${h.join(",")}] upgrade=${upgrade} keepAlive=${keepAlive}`,
      );
      return control.headReturn;
    },
    onBody(chunk: Buffer) {
      events.push(`body ${chunk.toString()}`);
    },
    onMessageComplete() {
      events.push("complete");
    },
  };
  return { events, callbacks, control };
}

describe("node's HTTP parser binding, as llhttp.ts uses it", () => {
  it("parses a request in pieces: partial heads are flushed, then completed", () => {
    const r = recorder();
    const p = createParser(REQUEST, 8192, r.callbacks, undefined);
    for (const piece of ["GET http://a/x", "y HTTP/1.1\r\nHo", "st: a\r\n\r\n"]) {
      assert.ok(!isParseError(p.execute(Buffer.from(piece))));
    }
    assert.equal(r.events.at(-1), "complete");
    assert.equal(r.events[0], "begin", "the first byte begins the message");
    assert.match(
      r.events.join("|"),
      /head 1\.1 \d+ http:\/\/a\/xy \[Host,a\] upgrade=false keepAlive=true/,
    );
  });

  it("reports the beginning of a message read behind another one in the same buffer", () => {
    const r = recorder();
    const p = createParser(REQUEST, 8192, r.callbacks, undefined);
    const one = "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n";
    assert.ok(!isParseError(p.execute(Buffer.from(one + one.slice(0, 9)))));
    assert.deepEqual(
      r.events.map((e) => e.split(" ")[0]),
      ["begin", "head", "complete", "begin"],
      "the half request behind the whole one has begun",
    );
    assert.ok(!isParseError(p.execute(Buffer.from(one.slice(9)))));
    assert.deepEqual(
      r.events.slice(-2).map((e) => e.split(" ")[0]),
      ["head", "complete"],
    );
  });

  it("returning 2 from the head callback stops at the end of the head; a reset parser goes on", () => {
    const r = recorder(2);
    const p = createParser(RESPONSE, 8192, r.callbacks, undefined);
    const text = Buffer.from(
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 204 No Content\r\n\r\n",
    );
    const n = p.execute(text);
    assert.equal(n, 38, "stopped right after the head");
    assert.deepEqual(r.events.slice(-1), ["complete"], "and reported an end of message");
    assert.ok(!r.events.some((e) => e.startsWith("body")), "the body was not parsed");
    r.control.headReturn = 0;
    resetParser(p, RESPONSE, 8192);
    assert.ok(!isParseError(p.execute(text.subarray(n + 5))));
    assert.match(r.events.join("|"), /head 1\.1 204 .*\|complete$/);
  });

  it("refuses ambiguous framing with the codes reject.ts maps", () => {
    const codes = [
      "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
      `GET / HTTP/1.1\r\nX: ${"a".repeat(300)}\r\n\r\n`,
    ].map((t) => {
      const p = createParser(REQUEST, 128, recorder().callbacks, undefined);
      const r = p.execute(Buffer.from(t));
      return isParseError(r) ? r.code : "accepted";
    });
    assert.deepEqual(codes, [
      "HPE_INVALID_TRANSFER_ENCODING",
      "HPE_UNEXPECTED_CONTENT_LENGTH",
      "HPE_HEADER_OVERFLOW",
    ]);
  });

  it("treats CONNECT and Upgrade requests as stopping after their head", () => {
    const r = recorder();
    const p = createParser(REQUEST, 8192, r.callbacks, undefined);
    const text = Buffer.from("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\nTLS");
    assert.equal(p.execute(text), text.length - 3);
    assert.match(r.events.find((e) => e.startsWith("head")) ?? "", /upgrade=true/);
  });
});

describe("rawBodyLength", () => {
  it("takes a Content-Length body, leaves empty bodies and chunked ones to the parser", () => {
    assert.equal(rawBodyLength(["Content-Length", String(RAW_BODY_MIN_BYTES)]), RAW_BODY_MIN_BYTES);
    assert.equal(rawBodyLength(["content-length", "12"]), 12);
    assert.equal(rawBodyLength(["content-length", "0"]), 0);
    assert.equal(rawBodyLength(["Transfer-Encoding", "chunked"]), 0);
    assert.equal(rawBodyLength(["Content-Length", "99999999999999999999"]), 0);
  });
});

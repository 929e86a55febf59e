// The head scans (head-scan.ts) against node's parser: they take only heads the parser
// accepts and read them the same way; what the response scan passes to the client is, field
// for field, the head renderResponseHead builds from the parser's reading.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { H_CONTENT_LENGTH, headerClass } from "./headers.ts";
import {
  REQUEST,
  RESPONSE,
  createParser,
  isParseError,
  methods,
  rawBodyLength,
  type RawHeaders,
} from "./llhttp.ts";
import { renderResponseHead, responseTail } from "./response-head.ts";
import { scanRequestHead, scanResponseHead, scannedRequest, scannedResponse } from "./head-scan.ts";

const MAX = 64 * 1024;

interface Parsed {
  status: number;
  message: string;
  method: string;
  url: string;
  headers: RawHeaders;
  keepAlive: boolean;
  upgrade: boolean;
  minor: number;
  /** the message ended (for a response: its head, where the parser was stopped) */
  complete: boolean;
  /** bytes the parser took: a response's head; a request's head and body */
  consumed: number;
}

/** What node's parser makes of a message: undefined when it refuses it. */
function parse(type: number, bytes: Buffer): Parsed | undefined {
  let out: Parsed | undefined;
  let acc: RawHeaders = [];
  let url = "";
  const p = createParser(
    type,
    MAX,
    {
      onHeaders(h: RawHeaders, u: string) {
        acc.push(...h);
        url += u;
      },
      onHeadersComplete(_maj, minor, headers, method, u, status, message, upgrade, keepAlive) {
        out = {
          status: status ?? 0,
          message: message ?? "",
          method: methods[method ?? -1] ?? "",
          url: u ?? url,
          headers: headers ?? acc,
          keepAlive,
          upgrade,
          minor,
          complete: false,
          consumed: 0,
        };
        acc = [];
        // a response stops at the end of its head, as upstream.ts does for a length body
        return type === RESPONSE ? 2 : 0;
      },
      onBody() {},
      onMessageComplete() {
        if (out) out.complete = true;
      },
    },
    undefined,
  );
  const r = p.execute(bytes);
  p.close();
  if (isParseError(r) || out === undefined) return undefined;
  out.consumed = r;
  return out;
}

/** The fields of a head as a client reads them, grouped by name (order kept within a name). */
function fieldsByName(head: Buffer): Map<string, string[]> {
  const parsed = parse(RESPONSE, head);
  assert.ok(
    parsed,
    `the client's parser refuses what we wrote: ${JSON.stringify(head.toString("latin1"))}`,
  );
  const m = new Map<string, string[]>();
  for (let i = 0; i < parsed.headers.length; i += 2) {
    const name = (parsed.headers[i] ?? "").toLowerCase();
    m.set(name, [...(m.get(name) ?? []), parsed.headers[i + 1] ?? ""]);
  }
  return new Map([...m].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}

/** The head Exchange.onScannedResponse writes: the origin's lines less the cuts, then the tail. */
function scannedOutput(bytes: Buffer, via: string): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < scannedResponse.cuts.length; i += 2) {
    parts.push(bytes.subarray(from, scannedResponse.cuts[i]));
    from = scannedResponse.cuts[i + 1] as number;
  }
  parts.push(bytes.subarray(from, scannedResponse.linesEnd), responseTail(via, false, 1));
  return Buffer.concat(parts);
}

/**
 * The property: a head the scan takes is one the parser takes, with the same end, status,
 * length and keep-alive, and the client gets the same fields either way.
 */
function assertSameReading(bytes: Buffer): void {
  const parsed = parse(RESPONSE, bytes);
  const text = JSON.stringify(bytes.toString("latin1"));
  assert.ok(parsed, `the scan took a head the parser refuses: ${text}`);
  assert.equal(scannedResponse.headEnd, parsed.consumed, `head end of ${text}`);
  assert.equal(scannedResponse.status, parsed.status, `status of ${text}`);
  assert.equal(!scannedResponse.close, parsed.keepAlive, `keep-alive of ${text}`);
  let length: string | undefined;
  for (let i = 0; i < parsed.headers.length; i += 2) {
    if (headerClass(parsed.headers[i] ?? "") === H_CONTENT_LENGTH) length = parsed.headers[i + 1];
  }
  assert.equal(scannedResponse.contentLength, Number(length), `Content-Length of ${text}`);
  const rendered = renderResponseHead(
    parsed.status,
    parsed.message,
    parsed.headers,
    "GET",
    1,
    false,
    "test",
  );
  const ours = scannedOutput(bytes, "test");
  assert.deepEqual(
    fieldsByName(ours),
    fieldsByName(Buffer.from(rendered.text, "latin1")),
    `fields of ${text}`,
  );
  assert.equal(
    ours.subarray(0, ours.indexOf("\r\n")).toString("latin1"),
    `HTTP/1.1 ${parsed.status} ${parsed.message}`,
    `status line of ${text}`,
  );
}

/**
 * Seeded mutations of `seeds` (bytes replaced, inserted, deleted, with the bytes that matter
 * to HTTP's grammar), each given to `check`, which says whether the scan took it.
 */
function mutate(seeds: Buffer[], check: (b: Buffer) => boolean): { taken: number; left: number } {
  const bytes = [
    0, 9, 10, 13, 32, 0x22, 0x23, 0x2c, 0x3a, 0x30, 0x39, 0x61, 0x41, 0x2d, 0x7f, 0x80, 0xff,
  ];
  let state = 0x2545f491;
  const rand = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  let taken = 0;
  let left = 0;
  for (let round = 0; round < 6000; round++) {
    let b = seeds[rand(seeds.length)] as Buffer;
    for (let k = 1 + rand(3); k > 0; k--) {
      const at = rand(b.length);
      const byte = Buffer.from([bytes[rand(bytes.length)] as number]);
      const op = rand(3);
      b =
        op === 0
          ? Buffer.concat([b.subarray(0, at), byte, b.subarray(at + 1)])
          : op === 1
            ? Buffer.concat([b.subarray(0, at), byte, b.subarray(at)])
            : Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
    }
    if (check(b)) taken++;
    else left++;
  }
  return { taken, left };
}

const HOP_HEAD =
  "HTTP/1.1 200 OK\r\n" +
  "Server: origin\r\n" +
  "Connection: keep-alive\r\n" +
  "Keep-Alive: timeout=5\r\n" +
  "Proxy-Connection: keep-alive\r\n" +
  "TE: trailers\r\n" +
  "Trailer: X-Sum\r\n" +
  "Upgrade: h2c\r\n" +
  "Proxy-Authenticate: Basic\r\n" +
  "Proxy-Authorization: Basic eA==\r\n" +
  "Content-Length: 3\r\n" +
  "Via: 1.0 other\r\n" +
  "X-End: kept\r\n" +
  "\r\nabc";

describe("scanResponseHead", () => {
  it("reads the common head: status, length, where the head ends", () => {
    const b = Buffer.from(
      "HTTP/1.1 200 OK\r\ncontent-length: 12\r\ncontent-type: text/plain\r\n\r\nhello world\n",
    );
    assert.equal(scanResponseHead(b, MAX), true);
    assert.equal(scannedResponse.status, 200);
    assert.equal(scannedResponse.contentLength, 12);
    assert.equal(scannedResponse.headEnd, b.length - 12);
    assert.equal(scannedResponse.linesEnd, b.length - 14);
    assert.equal(scannedResponse.close, false);
    assert.deepEqual(scannedResponse.cuts, []);
    assertSameReading(b);
  });

  it("cuts every hop-by-hop line and keeps the origin's Via and its own fields", () => {
    const b = Buffer.from(HOP_HEAD);
    assert.equal(scanResponseHead(b, MAX), true);
    const cut: string[] = [];
    for (let i = 0; i < scannedResponse.cuts.length; i += 2) {
      cut.push(b.subarray(scannedResponse.cuts[i], scannedResponse.cuts[i + 1]).toString());
    }
    assert.deepEqual(cut, [
      "Connection: keep-alive\r\n",
      "Keep-Alive: timeout=5\r\n",
      "Proxy-Connection: keep-alive\r\n",
      "TE: trailers\r\n",
      "Trailer: X-Sum\r\n",
      "Upgrade: h2c\r\n",
      "Proxy-Authenticate: Basic\r\n",
      "Proxy-Authorization: Basic eA==\r\n",
    ]);
    const out = scannedOutput(b, "test").toString();
    assert.equal(
      out,
      "HTTP/1.1 200 OK\r\nServer: origin\r\nContent-Length: 3\r\nVia: 1.0 other\r\nX-End: kept\r\nVia: 1.1 test\r\n\r\n",
    );
    assertSameReading(b);
  });

  it("Connection: close (in any case, among keep-alive tokens; or Proxy-Connection) ends the upstream connection", () => {
    for (const field of [
      "Connection:close",
      "Connection:CLOSE",
      "Connection:keep-alive, close",
      "Connection: close ,",
      "Proxy-Connection: close",
      "proxy-connection: X-Other, Close",
    ]) {
      const b = Buffer.from(`HTTP/1.1 404 Not Found\r\n${field}\r\nContent-Length: 0\r\n\r\n`);
      assert.equal(scanResponseHead(b, MAX), true, field);
      assert.equal(scannedResponse.close, true, field);
      assert.equal(scannedResponse.contentLength, 0);
      assertSameReading(b);
    }
  });

  it("leaves to the parser every head outside its subset", () => {
    const left = {
      "HTTP/1.0": "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
      informational: "HTTP/1.1 100 Continue\r\n\r\n",
      "204": "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
      "304": "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
      "status 600": "HTTP/1.1 600 X\r\nContent-Length: 1\r\n\r\n",
      "no length": "HTTP/1.1 200 OK\r\n\r\n",
      chunked: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
      "length and chunked":
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
      "two lengths": "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
      "a length list": "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n",
      "a signed length": "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
      "a huge length": `HTTP/1.1 200 OK\r\nContent-Length: ${"9".repeat(16)}\r\n\r\n`,
      "Connection naming a field":
        "HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nContent-Length: 1\r\n\r\n",
      "obs-text in a value": "HTTP/1.1 200 OK\r\nX: caf\xe9\r\nContent-Length: 1\r\n\r\n",
      "a control byte": "HTTP/1.1 200 OK\r\nX: a\x01b\r\nContent-Length: 1\r\n\r\n",
      "bare LF": "HTTP/1.1 200 OK\nContent-Length: 1\n\n",
      "space before the colon": "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n",
      "obs-fold": "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 1\r\n\r\n",
      "an empty name": "HTTP/1.1 200 OK\r\n: a\r\nContent-Length: 1\r\n\r\n",
      "no reason space": "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n",
      "half a head": "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n",
      "half the last CRLF": "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r",
    };
    for (const [why, text] of Object.entries(left)) {
      assert.equal(scanResponseHead(Buffer.from(text, "latin1"), MAX), false, why);
    }
  });

  it("leaves a head longer than the limit to the parser (it reports the overflow)", () => {
    const b = Buffer.from(`HTTP/1.1 200 OK\r\nX: ${"a".repeat(200)}\r\nContent-Length: 1\r\n\r\n`);
    assert.equal(scanResponseHead(b, b.length), true);
    assert.equal(scanResponseHead(b, b.length - 1), false);
  });

  it("takes only what the parser takes, and reads it the same way (seeded mutations)", () => {
    const seeds = [
      "HTTP/1.1 200 OK\r\ncontent-length: 12\r\ncontent-type: text/plain\r\n\r\nhello world\n",
      HOP_HEAD,
      "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length:  0 \r\n\r\n",
      "HTTP/1.1 404 \r\nX-A: 1\r\nx-a: 2\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 7\r\n\r\n",
      "HTTP/1.1 200 OK\r\nProxy-Connection: close\r\nContent-Length: 2\r\n\r\nok",
    ].map((s) => Buffer.from(s, "latin1"));
    const { taken, left } = mutate(seeds, (b) => {
      if (!scanResponseHead(b, MAX)) return false;
      assertSameReading(b);
      return true;
    });
    // Both sides of the scan were exercised, not just one.
    assert.ok(taken > 500, `only ${taken} mutated heads were taken`);
    assert.ok(left > 500, `only ${left} mutated heads were left to the parser`);
  });
});

/**
 * The property for requests: the parser takes the head and reads what the scan read, and
 * the message ends where the scan's length says (after a body of that many bytes).
 */
function assertSameRequest(bytes: Buffer): void {
  const q = scannedRequest;
  const head = bytes.subarray(0, q.headEnd);
  const text = JSON.stringify(head.toString("latin1"));
  // A body as long as the scan read; for a length too large to make, the head alone (the
  // parser then waits for the body: not complete).
  const makeBody = q.contentLength <= 65536;
  const parsed = parse(
    REQUEST,
    makeBody ? Buffer.concat([head, Buffer.alloc(q.contentLength, 0x78)]) : head,
  );
  assert.ok(parsed, `the scan took a request the parser refuses: ${text}`);
  const fields: string[] = [];
  for (let i = 0; i < q.fields.length; i += 4) {
    fields.push(
      head.toString("latin1", q.fields[i], q.fields[i + 1]),
      head.toString("latin1", q.fields[i + 2], q.fields[i + 3]),
    );
  }
  assert.deepEqual(
    {
      status: 0,
      message: "",
      method: q.method,
      url: head.toString("latin1", q.urlStart, q.urlEnd),
      headers: fields,
      keepAlive: true,
      upgrade: false,
      minor: 1,
      complete: makeBody,
      consumed: q.headEnd + (makeBody ? q.contentLength : 0),
    },
    parsed,
    `reading of ${text}`,
  );
  // and the length the proxy relays by is the one the parser's path would relay by
  const relayed = rawBodyLength(parsed.headers);
  assert.equal(relayed, q.contentLength, `body length of ${text}`);
}

const REQUEST_SEEDS = [
  "GET http://127.0.0.1:18081/ HTTP/1.1\r\nHost: 127.0.0.1:18081\r\n\r\n",
  "GET http://example.test/a?b=c&d=%2F HTTP/1.1\r\nHost: example.test\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nProxy-Connection: Keep-Alive\r\n\r\n",
  "HEAD http://h:8080/x HTTP/1.1\r\nHost: h:8080\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nExpect: 100-continue\r\n\r\n",
  "GET http://[2001:db8::1]:80/p HTTP/1.1\r\nhost:[2001:db8::1]\r\nConnection:  close \r\nX-Empty:\r\n\r\n",
  'POST http://api.example.test/v1/payments HTTP/1.1\r\nHost: api.example.test\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"amount":1}',
  "PUT http://a:81/k HTTP/1.1\r\nHost: a:81\r\ncontent-length:0\r\nExpect: 100-continue\r\n\r\n",
  "GET http://a/ HTTP/1.1\r\nHost: a\r\nProxy-Connection: close\r\n\r\n",
];

describe("scanRequestHead", () => {
  it("reads a POST's length: its body begins at the end of the head", () => {
    const b = Buffer.from(REQUEST_SEEDS[4] as string);
    assert.equal(scanRequestHead(b, MAX), true);
    assert.equal(scannedRequest.method, "POST");
    assert.equal(scannedRequest.contentLength, 12);
    assert.equal(b.subarray(scannedRequest.headEnd).toString(), '{"amount":1}');
    assertSameRequest(b);
  });

  it("reads a bodyless absolute-form request: method, URL, fields, where the next one begins", () => {
    const one = REQUEST_SEEDS[1] as string;
    const b = Buffer.from(one + one);
    assert.equal(scanRequestHead(b, MAX), true);
    assert.equal(scannedRequest.method, "GET");
    assert.equal(
      b.toString("latin1", scannedRequest.urlStart, scannedRequest.urlEnd),
      "http://example.test/a?b=c&d=%2F",
    );
    assert.equal(scannedRequest.headEnd, one.length);
    assert.equal(scannedRequest.fields.length, 4 * 4);
    assertSameRequest(b);
  });

  it("takes requests that keep the connection; one that closes it (Connection or Proxy-Connection) is the parser's", () => {
    for (const [field, taken] of [
      ["Connection: keep-alive", true],
      ["Connection: X-Hop", true],
      ["Connection: closed", true],
      ["Proxy-Connection: Keep-Alive", true],
      ["Connection: close", false],
      ["Connection: Keep-Alive, CLOSE", false],
      ["Proxy-Connection: close", false],
      ["proxy-connection: keep-alive, close", false],
    ] as const) {
      const b = Buffer.from(`GET http://a/ HTTP/1.1\r\nHost: a\r\n${field}\r\n\r\n`);
      assert.equal(scanRequestHead(b, MAX), taken, field);
      if (taken) assertSameRequest(b);
      else assert.equal(parse(REQUEST, b)?.keepAlive, false, `the parser closes after ${field}`);
    }
  });

  it("leaves to the parser every request outside its subset", () => {
    const left = {
      TRACE: "TRACE http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
      "a method in lower case": "post http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
      "two lengths": "POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
      "a length list": "POST http://a/ HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n",
      "a signed length": "POST http://a/ HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
      "length and chunked":
        "POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
      CONNECT: "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
      "lower-case method": "get http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
      "origin-form": "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "another scheme": "GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
      "HTTP/1.0": "GET http://a/ HTTP/1.0\r\nHost: a\r\n\r\n",
      chunked: "GET http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
      Upgrade: "GET http://a/ HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
      "Connection: upgrade": "GET http://a/ HTTP/1.1\r\nConnection: Upgrade\r\n\r\n",
      "a fragment": "GET http://a/#f HTTP/1.1\r\nHost: a\r\n\r\n",
      "a space in the URL": "GET http://a/b c HTTP/1.1\r\nHost: a\r\n\r\n",
      "obs-text in a value": "GET http://a/ HTTP/1.1\r\nX: caf\xe9\r\n\r\n",
      "bare LF": "GET http://a/ HTTP/1.1\nHost: a\n\n",
      "space before the colon": "GET http://a/ HTTP/1.1\r\nHost : a\r\n\r\n",
      "obs-fold": "GET http://a/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
      "half a head": "GET http://a/ HTTP/1.1\r\nHost: a\r\n",
    };
    for (const [why, text] of Object.entries(left)) {
      assert.equal(scanRequestHead(Buffer.from(text, "latin1"), MAX), false, why);
    }
  });

  it("leaves a head longer than the limit to the parser (it reports the overflow)", () => {
    const b = Buffer.from(`GET http://a/ HTTP/1.1\r\nX: ${"a".repeat(200)}\r\n\r\n`);
    assert.equal(scanRequestHead(b, b.length), true);
    assert.equal(scanRequestHead(b, b.length - 1), false);
  });

  it("takes only what the parser takes, and reads it the same way (seeded mutations)", () => {
    const seeds = REQUEST_SEEDS.map((s) => Buffer.from(s, "latin1"));
    const { taken, left } = mutate(seeds, (b) => {
      if (!scanRequestHead(b, MAX)) return false;
      assertSameRequest(b);
      return true;
    });
    assert.ok(taken > 500, `only ${taken} mutated requests were taken`);
    assert.ok(left > 500, `only ${left} mutated requests were left to the parser`);
  });
});

describe("the response scan and headers.ts agree", () => {
  it("on every field headers.ts classes, in any case: the client gets the same fields", () => {
    const names = [
      "TE",
      "Via",
      "Host",
      "Expect",
      "Trailer",
      "Upgrade",
      "Connection",
      "Keep-Alive",
      "Proxy-Connection",
      "Proxy-Authenticate",
      "Proxy-Authorization",
      "X-Other",
    ];
    let taken = 0;
    for (const name of names) {
      for (const spelled of [name, name.toLowerCase(), name.toUpperCase()]) {
        const value = name === "Connection" ? "keep-alive" : "v";
        const b = Buffer.from(
          `HTTP/1.1 200 OK\r\n${spelled}: ${value}\r\nContent-Length: 0\r\n\r\n`,
        );
        if (!scanResponseHead(b, MAX)) continue;
        taken++;
        assertSameReading(b);
      }
    }
    assert.equal(taken, names.length * 3, "each of them was scanned");
  });
});

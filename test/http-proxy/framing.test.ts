// Ambiguous or malformed requests are refused with an answer, never guessed at, and nothing
// of them reaches the origin: the request-smuggling shapes, over-long heads, and targets a
// forward proxy must not serve.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { headerOf, rawExchange, startOrigin, startProxy, statusOf } from "../helpers/http-proxy.ts";

const LOOPBACK = "127.0.0.0/8";

interface Case {
  readonly name: string;
  readonly head: (origin: string) => string;
  readonly status: number;
  readonly message: RegExp;
}

const framing: Case[] = [
  {
    name: "Content-Length and Transfer-Encoding (CL.TE)",
    head: (o) =>
      `POST http://${o}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX`,
    status: 400,
    message: /ambiguous framing.*HPE_INVALID_TRANSFER_ENCODING/,
  },
  {
    name: "Transfer-Encoding and Content-Length (TE.CL)",
    head: (o) =>
      `POST http://${o}/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`,
    status: 400,
    message: /ambiguous framing.*HPE_INVALID_CONTENT_LENGTH/,
  },
  {
    name: "two Content-Length fields",
    head: (o) =>
      `POST http://${o}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc`,
    status: 400,
    message: /ambiguous framing.*Duplicate Content-Length/,
  },
  {
    name: "a Transfer-Encoding other than chunked",
    head: (o) =>
      `POST http://${o}/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
    status: 501,
    message: /Cannot forward "Transfer-Encoding: gzip, chunked": only chunked is supported/,
  },
  {
    name: "obs-fold (a header continued on the next line)",
    head: (o) => `GET http://${o}/ HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n`,
    status: 400,
    message: /malformed HTTP.*HPE_INVALID_HEADER_TOKEN/,
  },
  {
    name: "white space before the colon",
    head: (o) => `GET http://${o}/ HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello`,
    status: 400,
    message: /malformed HTTP/,
  },
  {
    name: "bare LF line endings",
    head: (o) => `GET http://${o}/ HTTP/1.1\nHost: x\n\n`,
    status: 400,
    message: /malformed HTTP/,
  },
  {
    name: "a NUL in a header value",
    head: (o) => `GET http://${o}/ HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n`,
    status: 400,
    message: /malformed HTTP/,
  },
  {
    name: "a bad chunk size",
    head: (o) =>
      `POST http://${o}/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`,
    status: 400,
    message: /HPE_INVALID_CHUNK_SIZE/,
  },
  {
    name: "a negative Content-Length",
    head: (o) => `POST http://${o}/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n`,
    status: 400,
    message: /HPE_INVALID_CONTENT_LENGTH/,
  },
  {
    name: "a head over the size limit",
    head: (o) => `GET http://${o}/ HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(5000)}\r\n\r\n`,
    status: 431,
    message: /its head is larger than 4096 bytes; raise EGRESS_HTTP_PROXY_MAX_HEADER_BYTES/,
  },
  {
    name: "too many header fields",
    head: (o) => `GET http://${o}/ HTTP/1.1\r\nHost: x\r\n${"X: y\r\n".repeat(300)}\r\n`,
    status: 431,
    message: /more than 256 header fields/,
  },
  {
    name: "two Host fields",
    head: (o) => `GET http://${o}/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`,
    status: 400,
    message: /more than one Host header/,
  },
  {
    name: "HTTP/1.1 without Host",
    head: (o) => `GET http://${o}/ HTTP/1.1\r\n\r\n`,
    status: 400,
    message: /HTTP\/1\.1 requires a Host header/,
  },
  {
    name: "an unknown expectation",
    head: (o) =>
      `POST http://${o}/ HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx`,
    status: 417,
    message: /Cannot meet "Expect: 200-ok"/,
  },
  {
    name: "HTTP/2 prior knowledge",
    head: () => `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`,
    status: 505,
    message: /HTTP\/2 with prior knowledge/,
  },
  {
    name: "an unknown HTTP version",
    head: (o) => `GET http://${o}/ HTTP/1.7\r\nHost: x\r\n\r\n`,
    status: 505,
    message: /Invalid HTTP version/,
  },
];

const targets: Case[] = [
  {
    name: "origin-form (the proxy is not a web server)",
    head: () => `GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 400,
    message: /this is a proxy; send the absolute URL/,
  },
  {
    name: "an https URL (that needs CONNECT)",
    head: (o) => `GET https://${o}/ HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 400,
    message: /https goes through a CONNECT tunnel/,
  },
  {
    name: "another scheme",
    head: (o) => `GET ftp://${o}/ HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 400,
    message: /only http:\/\/ URLs and CONNECT are served/,
  },
  {
    name: "credentials in the URL",
    head: (o) => `GET http://user:secret@${o}/ HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 400,
    // said without repeating them: client libraries log error answers
    message: /^(?![^]*secret)[^]*"<credentials>@[^"]*": credentials in the URL are refused/,
  },
  {
    name: "a fragment",
    head: (o) => `GET http://${o}/#frag HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 400,
    message: /no fragment/,
  },
  {
    name: "a port out of range",
    head: () => `GET http://127.0.0.1:70000/ HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 400,
    message: /Cannot use port "70000": use a number from 1 to 65535/,
  },
  {
    name: "percent-encoding in the host",
    head: () => `GET http://127.0.0.1%2e/ HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 400,
    message: /Cannot use host "127\.0\.0\.1%2e": the host contains a character/,
  },
  {
    name: "an IPv4 address with a fifth part",
    head: () => `GET http://127.0.0.1.1/ HTTP/1.1\r\nHost: x\r\n\r\n`,
    status: 400,
    message: /neither a valid name nor a valid address/,
  },
  {
    name: "a loop through this proxy",
    head: (o) =>
      `GET http://${o}/ HTTP/1.1\r\nHost: x\r\nVia: 1.1 other, 1.1 egress-router-test\r\n\r\n`,
    status: 508,
    message: /already passed through this proxy/,
  },
];

describe("framing: ambiguous or malformed requests are refused and never forwarded", () => {
  for (const c of [...framing, ...targets]) {
    it(`${c.name}: ${c.status}`, async (t) => {
      const origin = await startOrigin(t);
      const { port } = await startProxy(t, LOOPBACK, { maxHeaderBytes: 4096 });
      const r = await rawExchange(port, c.head(`127.0.0.1:${origin.port}`));
      assert.equal(statusOf(r.text), c.status, r.text);
      assert.match(headerOf(r.text, "x-egress-router-error") ?? "", c.message);
      assert.equal(headerOf(r.text, "connection"), "close");
      assert.equal(r.ended, "end", "answered, then closed");
      assert.equal(origin.seen.length, 0, "nothing reached the origin");
    });
  }
});

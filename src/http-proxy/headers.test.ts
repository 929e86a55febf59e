import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  H_CONNECTION,
  H_CONTENT_LENGTH,
  H_HOP,
  H_HOST,
  H_OTHER,
  H_TRANSFER_ENCODING,
  H_UPGRADE,
  connectionListedNames,
  endToEndLines,
  headerClass,
  trailerLines,
} from "./headers.ts";

describe("headerClass", () => {
  it("knows the hop-by-hop and framing fields in any case", () => {
    const table: [string, number][] = [
      ["Connection", H_CONNECTION],
      ["KEEP-ALIVE", H_HOP],
      ["proxy-connection", H_HOP],
      ["Proxy-Authorization", H_HOP],
      ["Proxy-Authenticate", H_HOP],
      ["te", H_HOP],
      ["Trailer", H_HOP],
      ["Transfer-Encoding", H_TRANSFER_ENCODING],
      ["upgrade", H_UPGRADE],
      ["Host", H_HOST],
      ["content-length", H_CONTENT_LENGTH],
      ["Content-Type", H_OTHER],
      ["X-Keep-Alive", H_OTHER],
      ["Teapot", H_OTHER],
    ];
    for (const [name, cls] of table) assert.equal(headerClass(name), cls, name);
  });
});

describe("endToEndLines", () => {
  const headers = [
    "Host",
    "a",
    "Connection",
    "keep-alive, X-Secret",
    "X-Secret",
    "s",
    "Keep-Alive",
    "5",
    "Content-Length",
    "3",
    "Expect",
    "100-continue",
    "Via",
    "1.1 other",
    "Accept",
    "*/*",
  ];
  it("drops hop-by-hop, framing, Host and Connection-listed fields; keeps the rest in order", () => {
    assert.equal(
      endToEndLines(headers, connectionListedNames(headers), true),
      "Expect: 100-continue\r\nVia: 1.1 other\r\nAccept: */*\r\n",
    );
  });
  it("drops Expect for HTTP/1.0 clients", () => {
    assert.equal(
      endToEndLines(headers, connectionListedNames(headers), false),
      "Via: 1.1 other\r\nAccept: */*\r\n",
    );
  });
  it("finds no listed names when Connection only has the standard options", () => {
    assert.equal(connectionListedNames(["Connection", "close, Upgrade"]), undefined);
  });
});

describe("trailerLines", () => {
  it("passes ordinary trailer fields, never framing or routing ones", () => {
    assert.equal(
      trailerLines([
        "X-Checksum",
        "abc",
        "Content-Length",
        "5",
        "Host",
        "h",
        "Transfer-Encoding",
        "x",
      ]),
      "X-Checksum: abc\r\n",
    );
  });
});

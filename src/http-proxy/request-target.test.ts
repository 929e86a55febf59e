import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseAbsoluteTarget, parseConnectTarget, quoted } from "./request-target.ts";

describe("parseAbsoluteTarget", () => {
  const ok: [string, string, number, string, string][] = [
    ["http://Example.COM/a?b", "example.com", 80, "/a?b", "example.com"],
    ["HTTP://example.com:8080", "example.com", 8080, "/", "example.com:8080"],
    ["http://example.com:/x", "example.com", 80, "/x", "example.com"],
    ["http://example.com?q", "example.com", 80, "/?q", "example.com"],
    ["http://[2001:DB8::1]:81/p", "2001:db8::1", 81, "/p", "[2001:db8::1]:81"],
    ["http://0x7f.1/", "127.0.0.1", 80, "/", "127.0.0.1"],
    ["http://example.com./a/../b", "example.com", 80, "/a/../b", "example.com"],
  ];
  for (const [url, host, port, path, authority] of ok) {
    it(`${url} → ${authority}${path}`, () => {
      const t = parseAbsoluteTarget(url);
      assert.ok(!("problem" in t), JSON.stringify(t));
      const shown = t.host.kind === "name" ? t.host.name : t.host.address;
      assert.deepEqual([shown, t.port, t.path, t.authority], [host, port, path, authority]);
      const h = host.includes(":") ? `[${host}]` : host;
      assert.equal(t.destination, `${h}:${port}`);
    });
  }
  const bad: [string, RegExp][] = [
    ["/relative", /this is a proxy; send the absolute URL/],
    ["https://example.com/", /https goes through a CONNECT tunnel/],
    ["ws://example.com/", /only http:\/\/ URLs and CONNECT are served/],
    ["http://u:p@example.com/", /credentials in the URL are refused/],
    // the refusal does not repeat the credentials
    ["http://user:s3cret@example.com/", /^Cannot use "<credentials>@example\.com": credentials/],
    ["http://example.com/#x", /no fragment/],
    ["http://example.com:99999/", /Cannot use port "99999"/],
    ["http://example.com:8o/", /Cannot use port "8o"/],
    ["http://[::1/", /"\[" without "\]"/],
    ["http://[::1]x/", /expected ":port" after "\]"/],
    ["http:///", /Cannot use host "": the host is empty/],
  ];
  for (const [url, message] of bad) {
    it(`refuses ${url}`, () => {
      const t = parseAbsoluteTarget(url);
      assert.ok("problem" in t);
      assert.match(t.problem, message);
    });
  }
  it("takes the previous target's host over only for the same authority, as sent", () => {
    const first = parseAbsoluteTarget("http://Example.com:8080/a");
    assert.ok(!("problem" in first));
    const same = parseAbsoluteTarget("http://Example.com:8080/b?c", first);
    assert.ok(!("problem" in same));
    assert.equal(same.host, first.host, "the canonical host is carried over");
    assert.deepEqual(
      [same.port, same.path, same.authority, same.destination],
      [8080, "/b?c", "example.com:8080", "example.com:8080"],
    );
    const respelled = parseAbsoluteTarget("http://example.com:8080/b", first);
    assert.ok(!("problem" in respelled));
    assert.notEqual(respelled.host, first.host, "another spelling is parsed anew");
    for (const [url, message] of bad) {
      const t = parseAbsoluteTarget(url, first);
      assert.ok("problem" in t, `${url} is refused after a good request too`);
      assert.match(t.problem, message);
    }
  });
});

describe("parseConnectTarget", () => {
  it("host:port, bracketed IPv6", () => {
    assert.deepEqual(parseConnectTarget("API.example.com:443"), {
      host: { kind: "name", name: "api.example.com" },
      port: 443,
    });
    assert.deepEqual(parseConnectTarget("[::1]:8443"), {
      host: { kind: "address", address: "::1", family: 6 },
      port: 8443,
    });
  });
  it("needs a port; IPv6 needs brackets", () => {
    assert.match(
      (parseConnectTarget("example.com") as { problem: string }).problem,
      /needs host:port/,
    );
    assert.match(
      (parseConnectTarget("::1:443") as { problem: string }).problem,
      /must be in brackets/,
    );
  });
});

describe("quoted", () => {
  it("escapes what could break a header or a log line, and cuts long values", () => {
    assert.equal(quoted('a"b\\c\r\n\u0000é'), '"a\\u0022b\\u005cc\\u000d\\u000a\\u0000\\u00e9"');
    assert.equal(quoted("x".repeat(200)), `"${"x".repeat(120)}..."`);
  });
});

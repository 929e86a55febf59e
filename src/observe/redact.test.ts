import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { redact } from "./redact.ts";

describe("redact", () => {
  const cases = [
    {
      name: "plain host:port untouched",
      input: "api.example.com:443",
      want: "api.example.com:443",
    },
    { name: "IPv6 target untouched", input: "[2001:db8::1]:443", want: "[2001:db8::1]:443" },
    {
      name: "URL without secrets untouched",
      input: "http://example.com/a/b",
      want: "http://example.com/a/b",
    },
    {
      name: "user info in a URL",
      input: "http://alice:pw@example.com/x",
      want: "http://[redacted]@example.com/x",
    },
    {
      name: "query string and fragment",
      input: "https://example.com/cb?token=abc&x=1#frag",
      want: "https://example.com/cb?[redacted]",
    },
    {
      name: "both, inside a sentence",
      input: 'GET "https://u:p@example.com/?k=v" failed',
      want: 'GET "https://[redacted]@example.com/?[redacted]" failed',
    },
    {
      name: "user:password@host target",
      input: "bob:hunter2@example.com:443",
      want: "[redacted]@example.com:443",
    },
    {
      name: "Proxy-Authorization header text",
      input: "Proxy-Authorization: Basic Ym9iOmh1bnRlcjI=",
      want: "Proxy-Authorization: [redacted]",
    },
    {
      name: "Authorization bearer",
      input: "authorization=Bearer eyJhbGciOi",
      want: "authorization=[redacted]",
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(redact(c.input), c.want));
  }
});

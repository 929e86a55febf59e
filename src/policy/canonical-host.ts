// One canonical spelling for every host a client can ask for, so that no spelling slips past
// a rule: case, trailing dot, IDN (UTS #46 mapping, then punycode), the IPv4 literal forms
// that resolvers accept (decimal `2130706433`, hex `0x7f.1`, octal `0177.0.0.1`, short
// `127.1`), bracketed IPv6 and IPv4-mapped IPv6. Parsing is left to node's WHATWG host
// parser (`url.domainToASCII`) and `node:net`; this file only decides what to feed them.
import net from "node:net";
import { domainToASCII } from "node:url";

export type CanonicalHost =
  | { readonly kind: "name"; readonly name: string }
  | { readonly kind: "address"; readonly address: string; readonly family: 4 | 6 };

/** Why a host was refused; kebab-case, used in the 400 answer. */
export type HostProblem =
  "empty" | "too-long" | "bad-character" | "bad-name" | "bad-label" | "bad-ipv6" | "zone-id";

const MAX_RAW_LENGTH = 1024;

/**
 * Canonical form of a host as a client wrote it (without port or brackets removed).
 * Names come back lower-case ASCII without a trailing dot; IPv4 literals in any form come
 * back dotted-decimal; IPv6 literals come back compressed (RFC 5952) without brackets, and
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`) comes back as the IPv4 address it reaches.
 *
 * @example canonicalHost("WWW.Example.COM.") // { kind: "name", name: "www.example.com" }
 * @example canonicalHost("0x7f.1") // { kind: "address", address: "127.0.0.1", family: 4 }
 */
export function canonicalHost(raw: string): CanonicalHost | HostProblem {
  if (raw.length === 0) return "empty";
  if (raw.length > MAX_RAW_LENGTH) return "too-long";
  // Fast path: plain dotted-decimal IPv4 is already canonical (net.isIPv4 refuses leading
  // zeros, which the WHATWG parser would read as octal, so those take the long path).
  if (net.isIPv4(raw)) return { kind: "address", address: raw, family: 4 };
  if (raw.charCodeAt(0) === 0x5b /* [ */) return canonicalBracketed(raw);
  // An unbracketed IPv6 literal (as typed to `explain`); request targets never get here with
  // one, because their authority parser requires brackets around IPv6.
  if (raw.includes(":")) return net.isIPv6(raw) ? canonicalAddress(raw, 6) : "bad-character";
  // Only letters, digits, "-", "." and "_" in ASCII, plus any non-ASCII (IDN). The WHATWG
  // parser would otherwise percent-decode ("a%2ecom") or cut at "#", "/", "?" and "@".
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    const ok =
      (c >= 0x61 && c <= 0x7a) || // a-z
      (c >= 0x41 && c <= 0x5a) || // A-Z
      (c >= 0x30 && c <= 0x39) || // 0-9
      c === 0x2d || // -
      c === 0x2e || // .
      c === 0x5f || // _
      c >= 0x80;
    if (!ok) return "bad-character";
  }
  let ascii = domainToASCII(raw);
  if (ascii === "") return "bad-name";
  if (ascii.endsWith(".")) ascii = ascii.slice(0, -1);
  if (net.isIPv4(ascii)) return { kind: "address", address: ascii, family: 4 };
  if (ascii.length === 0 || ascii.length > 253) return ascii.length === 0 ? "bad-name" : "too-long";
  let start = 0;
  for (;;) {
    const dot = ascii.indexOf(".", start);
    const end = dot === -1 ? ascii.length : dot;
    const len = end - start;
    if (len === 0 || len > 63) return "bad-label";
    if (dot === -1) break;
    start = dot + 1;
  }
  return { kind: "name", name: ascii };
}

function canonicalBracketed(raw: string): CanonicalHost | HostProblem {
  if (raw.charCodeAt(raw.length - 1) !== 0x5d /* ] */) return "bad-ipv6";
  const inner = raw.slice(1, -1);
  if (inner.includes("%")) return "zone-id";
  if (!net.isIPv6(inner)) return "bad-ipv6";
  return canonicalAddress(inner, 6);
}

/**
 * Canonical form of an address literal (no brackets): IPv4 as is, IPv6 compressed and
 * lower-case, IPv4-mapped IPv6 as its IPv4 address. The input must pass `net.isIP`.
 */
export function canonicalAddress(address: string, family: 4 | 6): CanonicalHost {
  if (family === 4) return { kind: "address", address, family: 4 };
  const compressed = new net.SocketAddress({ address, family: "ipv6" }).address;
  const mapped = ipv4FromMapped(compressed);
  if (mapped !== undefined) return { kind: "address", address: mapped, family: 4 };
  return { kind: "address", address: compressed, family: 6 };
}

// IPv4-mapped IPv6: the last 32 bits are the IPv4 address a dual-stack socket really
// connects to. node serialises them dotted (`::ffff:127.0.0.1`); accept the hex form too.
function ipv4FromMapped(compressed: string): string | undefined {
  if (!compressed.startsWith("::ffff:")) return undefined;
  const tail = compressed.slice(7);
  if (net.isIPv4(tail)) return tail;
  const rest = tail.split(":");
  if (rest.length !== 2) return undefined;
  const hi = Number.parseInt(rest[0] ?? "", 16);
  const lo = Number.parseInt(rest[1] ?? "", 16);
  if (!Number.isInteger(hi) || !Number.isInteger(lo)) return undefined;
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** `host` for an authority or a Host header: IPv6 in brackets. */
export function hostForAuthority(host: CanonicalHost): string {
  if (host.kind === "name") return host.name;
  return host.family === 6 ? `[${host.address}]` : host.address;
}

/** A short human text for a host problem, for the 400 answer. */
export function describeHostProblem(problem: HostProblem): string {
  switch (problem) {
    case "empty":
      return "the host is empty";
    case "too-long":
      return "the host is longer than a DNS name can be";
    case "bad-character":
      return "the host contains a character that is not allowed in a host name";
    case "bad-name":
      return "the host is neither a valid name nor a valid address";
    case "bad-label":
      return "a label of the host name is empty or longer than 63 characters";
    case "bad-ipv6":
      return "the bracketed host is not a valid IPv6 address";
    case "zone-id":
      return "IPv6 zone identifiers are not accepted";
  }
}

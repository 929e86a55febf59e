// Address and prefix parsing for configuration values, on node:net's own parsers. Strict:
// dotted-quad IPv4 only (no octal, hex or short forms), IPv6 without zone ids.
import { isIPv4, isIPv6 } from "node:net";
import type { Family } from "./types.ts";

export interface ParsedAddress {
  readonly address: string; // canonical text: IPv4 as given, IPv6 compressed lower-case
  readonly family: Family;
}

export interface ParsedPrefix extends ParsedAddress {
  readonly prefixLength: number;
}

/** Canonical IPv6 text (RFC 5952 style, lower case), via the WHATWG URL host parser. */
function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** A plain IPv4 or IPv6 address, or undefined. */
export function parseAddress(text: string): ParsedAddress | undefined {
  if (isIPv4(text)) return { address: text, family: 4 };
  if (!text.includes("%") && isIPv6(text)) return { address: canonicalIPv6(text), family: 6 };
  return undefined;
}

/** `address/N` with N in range for the family; `requirePrefix: false` also takes a bare address. */
export function parsePrefix(text: string, requirePrefix: boolean): ParsedPrefix | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) {
    if (requirePrefix) return undefined;
    const a = parseAddress(text);
    return a && { ...a, prefixLength: a.family === 4 ? 32 : 128 };
  }
  const a = parseAddress(text.slice(0, slash));
  const bits = text.slice(slash + 1);
  if (!a || !/^\d{1,3}$/.test(bits)) return undefined;
  const prefixLength = Number(bits);
  if (prefixLength > (a.family === 4 ? 32 : 128)) return undefined;
  return { ...a, prefixLength };
}

/** The network address of `address/prefixLength` (host bits cleared). */
export function networkAddress(p: ParsedPrefix): string {
  if (p.family === 4) {
    const n = p.address.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
    const mask = p.prefixLength === 0 ? 0 : (0xffffffff << (32 - p.prefixLength)) >>> 0;
    const v = (n & mask) >>> 0;
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
  }
  const groups = expandIPv6(p.address);
  let bits = p.prefixLength;
  const out = groups.map((g) => {
    const keep = Math.max(0, Math.min(16, bits));
    bits -= 16;
    const mask = keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
    return (g & mask).toString(16);
  });
  return canonicalIPv6(out.join(":"));
}

/** Eight 16-bit groups of a canonical IPv6 address (embedded IPv4 included). */
function expandIPv6(address: string): number[] {
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const o = v4[1].split(".").map(Number);
    text = `${text.slice(0, -v4[1].length)}${(((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16)}:${(((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const zeros = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill("0");
  return [...h, ...zeros, ...t].map((g) => parseInt(g, 16));
}

// Header handling for both hops: which fields are hop-by-hop (RFC 9110 §7.6.1) and never
// forwarded, which ones frame the message (re-framed by us), and the heads we write.
// Names are compared without allocating in the common case: only a name whose length
// matches a known field is lower-cased.
import type { RawHeaders } from "./llhttp.ts";

export const H_OTHER = 0;
/** hop-by-hop: Keep-Alive, Proxy-Connection, Proxy-Authorization, Proxy-Authenticate, TE, Trailer */
export const H_HOP = 1;
export const H_HOST = 2;
export const H_CONTENT_LENGTH = 3;
export const H_TRANSFER_ENCODING = 4;
export const H_CONNECTION = 5;
export const H_UPGRADE = 6;
export const H_VIA = 7;
export const H_EXPECT = 8;

/** The class of a header name (any case). */
export function headerClass(name: string): number {
  // The spellings clients send are compared first: lower-casing makes a string each time.
  if (name === "Host" || name === "host") return H_HOST;
  switch (name.length) {
    case 2:
      return name.toLowerCase() === "te" ? H_HOP : H_OTHER;
    case 3:
      return name.toLowerCase() === "via" ? H_VIA : H_OTHER;
    case 4:
      return name.toLowerCase() === "host" ? H_HOST : H_OTHER;
    case 6:
      return name.toLowerCase() === "expect" ? H_EXPECT : H_OTHER;
    case 7: {
      const l = name.toLowerCase();
      return l === "trailer" ? H_HOP : l === "upgrade" ? H_UPGRADE : H_OTHER;
    }
    case 10: {
      const l = name.toLowerCase();
      return l === "connection" ? H_CONNECTION : l === "keep-alive" ? H_HOP : H_OTHER;
    }
    case 14:
      return name === "Content-Length" ||
        name === "content-length" ||
        name.toLowerCase() === "content-length"
        ? H_CONTENT_LENGTH
        : H_OTHER;
    case 16:
      return name.toLowerCase() === "proxy-connection" ? H_HOP : H_OTHER;
    case 17:
      return name.toLowerCase() === "transfer-encoding" ? H_TRANSFER_ENCODING : H_OTHER;
    case 18:
      return name.toLowerCase() === "proxy-authenticate" ? H_HOP : H_OTHER;
    case 19:
      return name.toLowerCase() === "proxy-authorization" ? H_HOP : H_OTHER;
    default:
      return H_OTHER;
  }
}

/**
 * Field names a Connection header lists beyond the standard options: they are hop-by-hop for
 * this message too (RFC 9110 §7.6.1). `undefined` when there are none (the common case).
 */
export function connectionListedNames(headers: RawHeaders): Set<string> | undefined {
  let names: Set<string> | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headerClass(headers[i] ?? "") !== H_CONNECTION) continue;
    for (const token of (headers[i + 1] ?? "").split(",")) {
      const t = token.trim().toLowerCase();
      if (t === "" || t === "close" || t === "keep-alive" || t === "upgrade") continue;
      (names ??= new Set()).add(t);
    }
  }
  return names;
}

/** True when a Connection header value lists `token` (case-insensitive). */
export function connectionHas(headers: RawHeaders, token: string): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (headerClass(headers[i] ?? "") !== H_CONNECTION) continue;
    for (const t of (headers[i + 1] ?? "").split(",")) {
      if (t.trim().toLowerCase() === token) return true;
    }
  }
  return false;
}

/**
 * The end-to-end fields of a message as head lines ("Name: value\r\n"…): hop-by-hop fields,
 * Host, the framing fields and Connection-listed fields are left out; the caller adds its own.
 * Expect is kept only when `keepExpect` (an HTTP/1.0 client's Expect must be ignored).
 */
export function endToEndLines(
  headers: RawHeaders,
  listed: Set<string> | undefined,
  keepExpect: boolean,
): string {
  let out = "";
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] ?? "";
    const cls = headerClass(name);
    if (cls !== H_OTHER && cls !== H_VIA && !(cls === H_EXPECT && keepExpect)) continue;
    if (listed !== undefined && listed.has(name.toLowerCase())) continue;
    out += `${name}: ${headers[i + 1] ?? ""}\r\n`;
  }
  return out;
}

/** Fields that may not appear in a trailer we pass on (framing, routing, hop-by-hop). */
export function trailerLines(trailers: RawHeaders): string {
  let out = "";
  for (let i = 0; i < trailers.length; i += 2) {
    const name = trailers[i] ?? "";
    if (headerClass(name) !== H_OTHER) continue;
    out += `${name}: ${trailers[i + 1] ?? ""}\r\n`;
  }
  return out;
}

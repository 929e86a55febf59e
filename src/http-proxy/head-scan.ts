// The common heads read without node's parser binding, whose cost per message (a call into
// C++, calls back into JavaScript for the message's beginning, head and end, each through
// node's callback machinery, an array of fresh strings, a reset afterwards) was the largest
// single part of a small request's CPU after the kernel's:
//
// - a response "HTTP/1.1 2xx-5xx" with a Content-Length and no Transfer-Encoding, whole in
//   one read: passed to the client as the bytes the origin sent, less its hop-by-hop lines,
//   plus our Via (no header strings, no head rebuilt);
// - a GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS request in absolute form, HTTP/1.1,
//   keeping the connection, without a body or with one Content-Length (no
//   Transfer-Encoding, no Upgrade), its head
//   whole in one read: its method, URL and fields are handed to the same code the parser's
//   callbacks call, and a body is relayed by its length as the parser's path does.
//
// Each scan accepts a strict subset of what the parser accepts and reads it the same way
// (head-scan.test.ts holds both to the parser's reading, mutation by mutation). Anything
// outside the subset (another version or method, 1xx/204/304, chunked or close-delimited
// framing, a Connection header naming fields in a response, a repeated Content-Length, a
// byte outside the plainest grammar, a head not whole in this read) is left to the parser,
// which accepts it or reports the error it always did: a scan never decides a head is bad.
import {
  H_CONNECTION,
  H_CONTENT_LENGTH,
  H_EXPECT,
  H_HOP,
  H_HOST,
  H_OTHER,
  H_TRANSFER_ENCODING,
  H_UPGRADE,
  H_VIA,
} from "./headers.ts";

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

/** token characters (RFC 9110 §5.6.2) */
const TCHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;

/** field-value and reason-phrase characters accepted here: VCHAR, SP, HTAB (no obs-text) */
const VALUE = new Uint8Array(256);
for (let c = 0x20; c <= 0x7e; c++) VALUE[c] = 1;
VALUE[HTAB] = 1;

/** What the response scan found; one object per thread, valid until the next scan. */
export interface ScannedResponse {
  status: number;
  /** offset just past the empty line that ends the head */
  headEnd: number;
  /** offset of that empty line (the head's field lines end here) */
  linesEnd: number;
  contentLength: number;
  /** the origin asked to close the connection after this response */
  close: boolean;
  /** [start, end) offsets of field lines to leave out (hop-by-hop), in order */
  readonly cuts: number[];
}

export const scannedResponse: ScannedResponse = {
  status: 0,
  headEnd: 0,
  linesEnd: 0,
  contentLength: -1,
  close: false,
  cuts: [],
};

/** Proxy-Connection: H_HOP in headers.ts, but the parser reads it as it reads Connection. */
const H_PROXY_CONNECTION = -1;

/** True when `b[at..at+word.length)` equals the lower-case `word` in any case. */
function named(b: Uint8Array, at: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) {
    if (((b[at + i] as number) | 0x20) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * headers.ts's headerClass, on bytes: the class of the field name at `b[at..at+len)`, with
 * Proxy-Connection told apart (H_PROXY_CONNECTION). Names are only compared where the length
 * matches a known field; `| 0x20` folds case and cannot make a match of a non-letter, since
 * every compared word is letters and '-'.
 */
function fieldClass(b: Uint8Array, at: number, len: number): number {
  switch (len) {
    case 2:
      return named(b, at, "te") ? H_HOP : H_OTHER;
    case 3:
      return named(b, at, "via") ? H_VIA : H_OTHER;
    case 4:
      return named(b, at, "host") ? H_HOST : H_OTHER;
    case 6:
      return named(b, at, "expect") ? H_EXPECT : H_OTHER;
    case 7:
      return named(b, at, "trailer") ? H_HOP : named(b, at, "upgrade") ? H_UPGRADE : H_OTHER;
    case 10:
      return named(b, at, "connection")
        ? H_CONNECTION
        : named(b, at, "keep-alive")
          ? H_HOP
          : H_OTHER;
    case 14:
      return named(b, at, "content-length") ? H_CONTENT_LENGTH : H_OTHER;
    case 16:
      return named(b, at, "proxy-connection") ? H_PROXY_CONNECTION : H_OTHER;
    case 17:
      return named(b, at, "transfer-encoding") ? H_TRANSFER_ENCODING : H_OTHER;
    case 18:
      return named(b, at, "proxy-authenticate") ? H_HOP : H_OTHER;
    case 19:
      return named(b, at, "proxy-authorization") ? H_HOP : H_OTHER;
    default:
      return H_OTHER;
  }
}

/**
 * Reads a Connection value: 1 it has "close", 0 it has not, -1 a token the scan leaves to
 * the parser: "upgrade" always, and in a response any but "keep-alive" and "close" (the
 * parser's path removes the fields a response's Connection names; a request's are removed
 * from its fields by the code both paths share).
 */
function connectionValue(b: Uint8Array, from: number, to: number, others: boolean): number {
  let close = 0;
  let i = from;
  while (i < to) {
    const c = b[i] as number;
    if (c === SP || c === HTAB || c === 44 /* , */) {
      i++;
      continue;
    }
    // A token runs to the next comma; whitespace inside one ("a b") is left to the parser.
    let j = i;
    while (j < to && b[j] !== 44 && b[j] !== SP && b[j] !== HTAB) j++;
    const len = j - i;
    while (j < to && (b[j] === SP || b[j] === HTAB)) j++;
    if (j < to && b[j] !== 44) return -1;
    if (len === 5 && named(b, i, "close")) close = 1;
    else if (len === 7 && named(b, i, "upgrade")) return -1;
    else if (!others && !(len === 10 && named(b, i, "keep-alive"))) return -1;
    i = j;
  }
  return close;
}

/** The parts of the field line fieldLine read last (one object per thread). */
const line = { nameEnd: 0, valueStart: 0, valueEnd: 0, next: 0 };

/**
 * Reads a field line at `i`, `name ":" OWS value OWS CRLF`, of token characters for the
 * name and VALUE bytes for the value, within `b[..n)`: false when it is not one (or not
 * whole). Then `line` has the name's end, the value without its OWS, the next line's start.
 */
function fieldLine(b: Uint8Array, i: number, n: number): boolean {
  const start = i;
  while (i < n && TCHAR[b[i] as number] === 1) i++;
  if (i === start || i >= n || b[i] !== COLON) return false;
  line.nameEnd = i;
  i++;
  while (i < n && (b[i] === SP || b[i] === HTAB)) i++;
  const valueStart = i;
  while (i < n && VALUE[b[i] as number] === 1) i++;
  if (i + 1 >= n || b[i] !== CR || b[i + 1] !== LF) return false;
  let valueEnd = i;
  while (valueEnd > valueStart && (b[valueEnd - 1] === SP || b[valueEnd - 1] === HTAB)) {
    valueEnd--;
  }
  line.valueStart = valueStart;
  line.valueEnd = valueEnd;
  line.next = i + 2;
  return true;
}

/** A Content-Length value of digits only (at most 15: a safe integer), or -1. */
function lengthValue(b: Uint8Array, from: number, to: number): number {
  if (to === from || to - from > 15) return -1;
  let v = 0;
  for (let k = from; k < to; k++) {
    const d = (b[k] as number) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Scans a response head at the start of `b`, whole within `maxHeadBytes` (the parser's limit
 * counts fewer bytes of the same head, so it would accept it too). True when it is one this
 * file handles; then `scannedResponse` describes it. False leaves everything to the parser.
 */
export function scanResponseHead(b: Uint8Array, maxHeadBytes: number): boolean {
  const n = Math.min(b.length, maxHeadBytes);
  // "HTTP/1.1 " 3DIGIT SP
  if (
    n < 17 ||
    b[0] !== 72 ||
    b[1] !== 84 ||
    b[2] !== 84 ||
    b[3] !== 80 ||
    b[4] !== 47 ||
    b[5] !== 49 ||
    b[6] !== 46 ||
    b[7] !== 49 ||
    b[8] !== SP ||
    b[12] !== SP
  ) {
    return false;
  }
  const d0 = (b[9] as number) - 48;
  const d1 = (b[10] as number) - 48;
  const d2 = (b[11] as number) - 48;
  if (d0 < 2 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return false;
  const status = d0 * 100 + d1 * 10 + d2;
  // No body by definition: the parser's path knows what to do with a length on these.
  if (status === 204 || status === 304) return false;
  let i = 13;
  while (i < n && VALUE[b[i] as number] === 1) i++;
  if (i + 1 >= n || b[i] !== CR || b[i + 1] !== LF) return false;
  i += 2;
  const cuts = scannedResponse.cuts;
  cuts.length = 0;
  let length = -1;
  let close = false;
  for (;;) {
    if (i >= n) return false;
    const lineStart = i;
    if (b[i] === CR) {
      if (i + 1 >= n || b[i + 1] !== LF) return false;
      if (length < 0) return false;
      scannedResponse.status = status;
      scannedResponse.linesEnd = i;
      scannedResponse.headEnd = i + 2;
      scannedResponse.contentLength = length;
      scannedResponse.close = close;
      return true;
    }
    if (!fieldLine(b, i, n)) return false;
    const { valueStart, valueEnd } = line;
    const cls = fieldClass(b, lineStart, line.nameEnd - lineStart);
    if (cls === H_TRANSFER_ENCODING) return false;
    i = line.next;
    // What renderResponseHead keeps (Via too: ours is added after the origin's)
    if (cls === H_OTHER || cls === H_VIA) continue;
    if (cls === H_CONTENT_LENGTH) {
      // One length (the parser refuses a second one, and reads "1, 1" its way).
      if (length >= 0) return false;
      length = lengthValue(b, valueStart, valueEnd);
      if (length < 0) return false;
      continue;
    }
    if (cls === H_CONNECTION || cls === H_PROXY_CONNECTION) {
      // (Connection's other tokens name fields to remove: the parser's path does that.)
      const c = connectionValue(b, valueStart, valueEnd, cls === H_PROXY_CONNECTION);
      if (c < 0) return false;
      if (c === 1) close = true;
    }
    // hop-by-hop, Host, Expect, Upgrade, Connection: left out
    cuts.push(lineStart, i);
  }
}

/** What the request scan found; one object per thread, valid until the next scan. */
export interface ScannedRequest {
  method: string;
  urlStart: number;
  urlEnd: number;
  /** offset just past the empty line that ends the head */
  headEnd: number;
  /** the body's length (0: none) */
  contentLength: number;
  /** per field, in order: name start, name end, value start, value end (OWS trimmed) */
  readonly fields: number[];
}

export const scannedRequest: ScannedRequest = {
  method: "",
  urlStart: 0,
  urlEnd: 0,
  headEnd: 0,
  contentLength: 0,
  fields: [],
};

/**
 * Request-target bytes accepted here: VCHAR less those the parser refuses somewhere in a URL
 * (in the authority: '"', '#', '<', '>', '\', '^', '`', '{', '|', '}').
 */
const URL_BYTE = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) URL_BYTE[c] = 1;
for (const ch of '"#<>\\^`{|}') URL_BYTE[ch.charCodeAt(0)] = 0;

/** The methods the scan takes, by first letter (all upper case, as the parser wants them). */
const METHODS: Record<number, readonly string[]> = {
  71: ["GET"],
  72: ["HEAD"],
  80: ["POST", "PUT", "PATCH"],
  68: ["DELETE"],
  79: ["OPTIONS"],
};

/** The method at the start of `b`, followed by a space, if the scan takes it. */
function methodAt(b: Uint8Array): string | undefined {
  const candidates = METHODS[b[0] as number];
  if (candidates === undefined) return undefined;
  for (const m of candidates) {
    let k = 1;
    while (k < m.length && b[k] === m.charCodeAt(k)) k++;
    if (k === m.length && b[k] === SP) return m;
  }
  return undefined;
}

/**
 * Scans a request head at the start of `b`, whole within `maxHeadBytes`. True when it is one
 * this file handles (see the top); then `scannedRequest` describes it: its body (of
 * `contentLength` bytes, 0 for none) begins at `headEnd`.
 */
export function scanRequestHead(b: Uint8Array, maxHeadBytes: number): boolean {
  const n = Math.min(b.length, maxHeadBytes);
  const method = methodAt(b);
  if (method === undefined) return false;
  let i = method.length + 1;
  // "http://" and the rest of an absolute-form target
  const urlStart = i;
  if (
    i + 7 >= n ||
    b[i] !== 104 ||
    b[i + 1] !== 116 ||
    b[i + 2] !== 116 ||
    b[i + 3] !== 112 ||
    b[i + 4] !== COLON ||
    b[i + 5] !== 47 ||
    b[i + 6] !== 47
  ) {
    return false;
  }
  i += 7;
  while (i < n && URL_BYTE[b[i] as number] === 1) i++;
  const urlEnd = i;
  // " HTTP/1.1" CRLF
  if (
    i + 10 >= n ||
    b[i] !== SP ||
    b[i + 1] !== 72 ||
    b[i + 2] !== 84 ||
    b[i + 3] !== 84 ||
    b[i + 4] !== 80 ||
    b[i + 5] !== 47 ||
    b[i + 6] !== 49 ||
    b[i + 7] !== 46 ||
    b[i + 8] !== 49 ||
    b[i + 9] !== CR ||
    b[i + 10] !== LF
  ) {
    return false;
  }
  i += 11;
  const fields = scannedRequest.fields;
  fields.length = 0;
  let length = -1;
  for (;;) {
    if (i >= n) return false;
    const lineStart = i;
    if (b[i] === CR) {
      if (i + 1 >= n || b[i + 1] !== LF) return false;
      scannedRequest.contentLength = length < 0 ? 0 : length;
      scannedRequest.method = method;
      scannedRequest.urlStart = urlStart;
      scannedRequest.urlEnd = urlEnd;
      scannedRequest.headEnd = i + 2;
      return true;
    }
    if (!fieldLine(b, i, n)) return false;
    const { nameEnd, valueStart, valueEnd } = line;
    // Chunked framing and upgrades are left to the parser.
    const cls = fieldClass(b, lineStart, nameEnd - lineStart);
    if (cls === H_TRANSFER_ENCODING || cls === H_UPGRADE) return false;
    i = line.next;
    if (cls === H_CONNECTION || cls === H_PROXY_CONNECTION) {
      // A request that closes the connection is left to the parser: it is the last one, and
      // the parser refuses bytes after it as its path always did (a 400, nothing forwarded).
      if (connectionValue(b, valueStart, valueEnd, true) !== 0) return false;
    } else if (cls === H_CONTENT_LENGTH) {
      if (length >= 0) return false;
      length = lengthValue(b, valueStart, valueEnd);
      if (length < 0) return false;
    }
    fields.push(lineStart, nameEnd, valueStart, valueEnd);
  }
}

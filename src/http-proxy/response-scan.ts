// The common response head read without the parser: "HTTP/1.1 2xx-5xx", a Content-Length,
// no Transfer-Encoding, whole in one read. Such a head is passed to the client as the bytes
// the origin sent, less its hop-by-hop lines, plus our Via: no header strings are made, no
// head is rebuilt, and node's parser binding (a call into C++, a call back into JavaScript
// with an array of fresh strings, a reset afterwards) is not used at all.
//
// The scan accepts a strict subset of what the parser accepts, and reads it the same way.
// Anything outside it (another version, 1xx/204/304, chunked or close-delimited framing, a
// Connection header naming fields, a repeated Content-Length, a byte outside the plainest
// grammar, a head longer than one read) is left to the parser, which then either accepts it
// or reports the error it always did: the scan never decides that a head is bad.
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

/** What the scan found; one object per thread, valid until the next scan. */
export interface ScannedHead {
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

export const scanned: ScannedHead = {
  status: 0,
  headEnd: 0,
  linesEnd: 0,
  contentLength: -1,
  close: false,
  cuts: [],
};

const DROP = 1;
const LENGTH = 2;
const CONNECTION = 3;
const REFUSE = 4;
const KEEP = 0;

/** True when `b[at..at+word.length)` equals the lower-case `word` in any case. */
function named(b: Uint8Array, at: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) {
    if (((b[at + i] as number) | 0x20) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * What to do with a field of this name: the classes of headers.ts, decided on bytes. Names
 * are only compared where the length matches a field that matters; `| 0x20` folds case and
 * cannot make a match of a non-letter, since every compared word is letters and '-'.
 */
function fieldAction(b: Uint8Array, at: number, len: number): number {
  switch (len) {
    case 2:
      return named(b, at, "te") ? DROP : KEEP;
    case 4:
      return named(b, at, "host") ? DROP : KEEP;
    case 6:
      return named(b, at, "expect") ? DROP : KEEP;
    case 7:
      return named(b, at, "trailer") || named(b, at, "upgrade") ? DROP : KEEP;
    case 10:
      return named(b, at, "connection") ? CONNECTION : named(b, at, "keep-alive") ? DROP : KEEP;
    case 14:
      return named(b, at, "content-length") ? LENGTH : KEEP;
    case 16:
      return named(b, at, "proxy-connection") ? DROP : KEEP;
    case 17:
      return named(b, at, "transfer-encoding") ? REFUSE : KEEP;
    case 18:
      return named(b, at, "proxy-authenticate") ? DROP : KEEP;
    case 19:
      return named(b, at, "proxy-authorization") ? DROP : KEEP;
    default:
      return KEEP;
  }
}

/**
 * Reads a Connection value of only "keep-alive" and "close" tokens: 1 close, 0 keep-alive
 * or empty, -1 anything else (the parser's path removes the fields it names).
 */
function connectionValue(b: Uint8Array, from: number, to: number): number {
  let close = 0;
  let i = from;
  while (i < to) {
    const c = b[i] as number;
    if (c === SP || c === HTAB || c === 44 /* , */) {
      i++;
      continue;
    }
    let j = i;
    while (j < to && b[j] !== 44 && b[j] !== SP && b[j] !== HTAB) j++;
    const len = j - i;
    if (len === 5 && named(b, i, "close")) close = 1;
    else if (!(len === 10 && named(b, i, "keep-alive"))) return -1;
    i = j;
  }
  return close;
}

/**
 * Scans a response head at the start of `b`, whole within `maxHeadBytes` (the parser's limit
 * counts fewer bytes of the same head, so it would accept it too). True when it is one this
 * file handles; then `scanned` describes it. False leaves everything to the parser.
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
  const cuts = scanned.cuts;
  cuts.length = 0;
  let length = -1;
  let close = false;
  for (;;) {
    if (i >= n) return false;
    const lineStart = i;
    if (b[i] === CR) {
      if (i + 1 >= n || b[i + 1] !== LF) return false;
      if (length < 0) return false;
      scanned.status = status;
      scanned.linesEnd = i;
      scanned.headEnd = i + 2;
      scanned.contentLength = length;
      scanned.close = close;
      return true;
    }
    while (i < n && TCHAR[b[i] as number] === 1) i++;
    if (i === lineStart || i >= n || b[i] !== COLON) return false;
    const action = fieldAction(b, lineStart, i - lineStart);
    if (action === REFUSE) return false;
    i++;
    while (i < n && (b[i] === SP || b[i] === HTAB)) i++;
    const valueStart = i;
    while (i < n && VALUE[b[i] as number] === 1) i++;
    if (i + 1 >= n || b[i] !== CR || b[i + 1] !== LF) return false;
    let valueEnd = i;
    while (valueEnd > valueStart && (b[valueEnd - 1] === SP || b[valueEnd - 1] === HTAB)) {
      valueEnd--;
    }
    i += 2;
    if (action === KEEP) continue;
    if (action === LENGTH) {
      // One length, digits only (the parser refuses a second one, and reads "1, 1" its way).
      const digits = valueEnd - valueStart;
      if (length >= 0 || digits === 0 || digits > 15) return false;
      let v = 0;
      for (let k = valueStart; k < valueEnd; k++) {
        const d = (b[k] as number) - 48;
        if (d < 0 || d > 9) return false;
        v = v * 10 + d;
      }
      length = v;
      continue;
    }
    if (action === CONNECTION) {
      const c = connectionValue(b, valueStart, valueEnd);
      if (c < 0) return false;
      if (c === 1) close = true;
    }
    cuts.push(lineStart, i);
  }
}

// Node's own HTTP/1.1 parser (llhttp, the one node:http uses), driven directly. node:http's
// server and client objects cost more per request than a proxy can afford (streams, header
// objects, two message objects per hop); the parser itself is native and strict. We feed it
// bytes and get the request line, headers and body back, with node:http's framing rules:
// Content-Length together with Transfer-Encoding, duplicate Content-Length, obs-fold, bare
// LF, bad chunk sizes and over-long heads are all errors here, never guesses.
//
// `_http_common` is an internal module of node. The project pins its Node.js version
// (package.json), and llhttp.test.ts pins the behaviour this file relies on, so an upgrade
// that changes it fails the tests instead of the proxy.
import { createRequire } from "node:module";
import { H_CONTENT_LENGTH, H_TRANSFER_ENCODING, headerClass } from "./headers.ts";

/** The parser's callbacks are called with the parser as `this`; `owner` finds our state. */
export interface Parser {
  owner: unknown;
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  /** bytes consumed, or an Error with `code` (HPE_*), `reason` and `bytesParsed` */
  execute(data: Buffer): number | ParseError;
  /** end of input: completes a close-delimited body, or an Error for a truncated message */
  finish(): number | ParseError | undefined;
  close(): void;
  [key: number]: unknown;
}

export interface ParseError extends Error {
  readonly code: string;
  readonly reason: string;
  readonly bytesParsed: number;
}

interface HTTPParserClass {
  new (): Parser;
  readonly REQUEST: number;
  readonly RESPONSE: number;
  readonly kOnMessageBegin: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
}

const common = createRequire(import.meta.url)("_http_common") as {
  HTTPParser: HTTPParserClass;
  methods: readonly string[];
};

const HTTPParser = common.HTTPParser;
/** method index (as the parser reports it) → method name */
export const methods: readonly string[] = common.methods;

export const REQUEST = HTTPParser.REQUEST;
export const RESPONSE = HTTPParser.RESPONSE;

/** headers arrive as [name, value, name, value, …] with names as sent */
export type RawHeaders = string[];

/** Called when a head is longer than one read: partial headers and URL so far. */
export type OnHeaders = (this: Parser, headers: RawHeaders, url: string) => void;
/** Return 0: the message has a body as framed; 1: no body (HEAD, 1xx); 2: stop (upgrade). */
export type OnHeadersComplete = (
  this: Parser,
  versionMajor: number,
  versionMinor: number,
  headers: RawHeaders | undefined,
  method: number | undefined,
  url: string | undefined,
  statusCode: number | undefined,
  statusMessage: string | undefined,
  upgrade: boolean,
  shouldKeepAlive: boolean,
) => number;
export type OnBody = (this: Parser, chunk: Buffer) => void;
export type OnMessageComplete = (this: Parser) => void;
/** The first byte of a message was read (also when the bytes come behind another message). */
export type OnMessageBegin = (this: Parser) => void;

export interface ParserCallbacks {
  /** optional: each one set costs a call into JavaScript per message */
  readonly onMessageBegin?: OnMessageBegin;
  readonly onHeaders: OnHeaders;
  readonly onHeadersComplete: OnHeadersComplete;
  readonly onBody: OnBody;
  readonly onMessageComplete: OnMessageComplete;
}

// The async_hooks resource the parser reports; one shared object, no per-parser allocation.
const resource = Object.freeze({ type: "EGRESS_ROUTER_HTTP" });

/** A strict parser (no lenient flags) for requests or responses. */
export function createParser(
  type: number,
  maxHeaderBytes: number,
  callbacks: ParserCallbacks,
  owner: unknown,
): Parser {
  const p = new HTTPParser();
  p.initialize(type, resource, maxHeaderBytes, 0);
  if (callbacks.onMessageBegin) p[HTTPParser.kOnMessageBegin] = callbacks.onMessageBegin;
  p[HTTPParser.kOnHeaders] = callbacks.onHeaders;
  p[HTTPParser.kOnHeadersComplete] = callbacks.onHeadersComplete;
  p[HTTPParser.kOnBody] = callbacks.onBody;
  p[HTTPParser.kOnMessageComplete] = callbacks.onMessageComplete;
  p.owner = owner;
  return p;
}

/** Makes a parser ready for the next message (after a body we relayed ourselves). */
export function resetParser(p: Parser, type: number, maxHeaderBytes: number): void {
  p.initialize(type, resource, maxHeaderBytes, 0);
}

/**
 * The Content-Length of a message whose body we relay ourselves: any length from 1 on, with
 * no Transfer-Encoding (the parser has already refused both together and any malformed
 * length). 0 when the parser should handle the body (chunked, close-delimited, empty).
 *
 * Why: node's parser binding copies every body piece into a new Buffer and calls into
 * JavaScript for it and again for the message's end. For a body framed by Content-Length,
 * counting bytes is all the framing there is, so we stop the parser at the end of the head
 * (return 2 from the head callback), pass the bytes on as slices of what the socket read,
 * and restart the parser for the next message: cheaper even for a body of a few bytes
 * (about half the cost of a 12-byte response's parse, measured on node 24).
 */
export function rawBodyLength(headers: RawHeaders): number {
  let length = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const cls = headerClass(headers[i] ?? "");
    if (cls === H_CONTENT_LENGTH) length = Number(headers[i + 1]);
    else if (cls === H_TRANSFER_ENCODING) return 0;
  }
  return length >= RAW_BODY_MIN_BYTES && Number.isSafeInteger(length) ? length : 0;
}

/** Bodies from this size on are relayed without the parser (see rawBodyLength). */
export const RAW_BODY_MIN_BYTES = 1;

/**
 * Parsers of one kind (type and callbacks) for reuse, as node:http keeps its own: a parser is
 * native memory (about 2 KiB: the header fields it collects, the URL), so connections take one
 * only while they read a request and give it back when they are closed or idle between
 * requests (client-connection.ts). Taking one resets it for the next message.
 */
export class ParserPool {
  private readonly free: Parser[] = [];
  private readonly type: number;
  private readonly callbacks: ParserCallbacks;
  private readonly max: number;

  constructor(type: number, callbacks: ParserCallbacks, max: number) {
    this.type = type;
    this.callbacks = callbacks;
    this.max = max;
  }

  take(maxHeaderBytes: number, owner: unknown): Parser {
    const p = this.free.pop();
    if (p === undefined) return createParser(this.type, maxHeaderBytes, this.callbacks, owner);
    p.initialize(this.type, resource, maxHeaderBytes, 0);
    p.owner = owner;
    return p;
  }

  /** The owner is done with `p`; never from inside p.execute (callbacks included). */
  give(p: Parser): void {
    p.owner = undefined;
    if (this.free.length < this.max) this.free.push(p);
    else p.close();
  }

  /** parsers kept for reuse */
  get size(): number {
    return this.free.length;
  }
}

/** Frees the native parser once the current call stack (maybe inside execute) has unwound. */
export function releaseParser(p: Parser): void {
  p.owner = undefined;
  setImmediate(closeParser, p);
}

function closeParser(p: Parser): void {
  p.close();
}

export function isParseError(r: unknown): r is ParseError {
  return r instanceof Error;
}

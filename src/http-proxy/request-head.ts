// The request head on its way upstream: checked (what may be forwarded at all), then
// rendered for the origin with our framing, the URL's Host and our Via.
import {
  H_CONTENT_LENGTH,
  H_EXPECT,
  H_HOST,
  H_TRANSFER_ENCODING,
  H_UPGRADE,
  H_VIA,
  connectionListedNames,
  endToEndLines,
  headerClass,
} from "./headers.ts";
import type { RawHeaders } from "./llhttp.ts";
import type { Reject } from "./reject.ts";
import { quoted, type ForwardTarget } from "./request-target.ts";

export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;

/** header lines in one request; more is an abuse, not a browser (431) */
export const MAX_HEADER_FIELDS = 256;

export interface RequestHead {
  readonly bodyKind: number;
  /** the Content-Length as sent ("" when none) */
  readonly contentLength: string;
  readonly expectContinue: boolean;
  readonly upgrade: string;
  /** field names the Connection header lists (hop-by-hop for this message) */
  readonly listed: Set<string> | undefined;
}

/** Checks a request head; a Reject when it cannot be forwarded as it is. */
export function checkRequestHead(
  h: RawHeaders,
  clientMinor: number,
  url: string,
  viaToken: string,
): RequestHead | Reject {
  if (h.length / 2 > MAX_HEADER_FIELDS) {
    return {
      status: 431,
      message: `Cannot read the request: more than ${MAX_HEADER_FIELDS} header fields`,
    };
  }
  let hosts = 0;
  let te: string | undefined;
  let contentLength = "";
  let expectContinue = false;
  let upgrade = "";
  for (let i = 0; i < h.length; i += 2) {
    const cls = headerClass(h[i] ?? "");
    if (cls === 0) continue;
    const value = h[i + 1] ?? "";
    if (cls === H_HOST) hosts++;
    else if (cls === H_CONTENT_LENGTH) contentLength = value;
    else if (cls === H_TRANSFER_ENCODING) te = te === undefined ? value : `${te}, ${value}`;
    else if (cls === H_EXPECT && clientMinor === 1) {
      if (value.trim().toLowerCase() !== "100-continue") {
        return {
          status: 417,
          message: `Cannot meet "Expect: ${quoted(value).slice(1, -1)}": only 100-continue is known`,
        };
      }
      expectContinue = true;
    } else if (cls === H_VIA && value.includes(viaToken)) {
      return {
        status: 508,
        message: `Cannot forward ${quoted(url)}: the request has already passed through this proxy (forwarding loop)`,
      };
    } else if (cls === H_UPGRADE) upgrade = value;
  }
  if (hosts > 1) {
    return { status: 400, message: "Cannot read the request: more than one Host header" };
  }
  if (hosts === 0 && clientMinor === 1) {
    return { status: 400, message: "Cannot read the request: HTTP/1.1 requires a Host header" };
  }
  let bodyKind = BODY_NONE;
  if (te !== undefined) {
    if (te.trim().toLowerCase() !== "chunked") {
      return {
        status: 501,
        message: `Cannot forward "Transfer-Encoding: ${quoted(te).slice(1, -1)}": only chunked is supported`,
      };
    }
    bodyKind = BODY_CHUNKED;
  } else if (contentLength !== "" && contentLength !== "0") {
    bodyKind = BODY_LENGTH;
  }
  return { bodyKind, contentLength, expectContinue, upgrade, listed: connectionListedNames(h) };
}

/** The head the origin gets: origin-form target, Host from the URL, our framing and Via. */
export function renderRequestHead(
  method: string,
  target: ForwardTarget,
  headers: RawHeaders,
  head: RequestHead,
  clientMinor: number,
  isUpgrade: boolean,
  viaToken: string,
): string {
  let framing = "";
  // "Content-Length: 0" goes on too: some servers want a length on every POST (411).
  if (head.bodyKind === BODY_LENGTH || head.contentLength === "0") {
    framing = `Content-Length: ${head.contentLength}\r\n`;
  } else if (head.bodyKind === BODY_CHUNKED) framing = "Transfer-Encoding: chunked\r\n";
  if (isUpgrade) framing += `Connection: Upgrade\r\nUpgrade: ${head.upgrade}\r\n`;
  return (
    `${method} ${target.path} HTTP/1.1\r\nHost: ${target.authority}\r\n` +
    endToEndLines(headers, head.listed, clientMinor === 1) +
    `${framing}Via: 1.1 ${viaToken}\r\n\r\n`
  );
}

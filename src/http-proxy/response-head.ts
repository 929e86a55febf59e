// The response head on its way to the client: our framing (Content-Length passed on,
// otherwise chunked for HTTP/1.1 or close-delimited for HTTP/1.0), our Via, Connection.
import {
  H_CONTENT_LENGTH,
  H_UPGRADE,
  connectionListedNames,
  endToEndLines,
  headerClass,
} from "./headers.ts";
import type { RawHeaders } from "./llhttp.ts";

export interface ResponseHead {
  readonly text: string;
  /** the body goes to the client re-chunked */
  readonly chunked: boolean;
  /** the client connection closes after this response */
  readonly closeAfter: boolean;
  /** no body follows (HEAD, 204, 304) */
  readonly noBody: boolean;
}

/** A final (>= 200) response head for the client. */
export function renderResponseHead(
  status: number,
  message: string,
  headers: RawHeaders,
  method: string,
  clientMinor: number,
  closeWanted: boolean,
  viaToken: string,
): ResponseHead {
  let cl: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headerClass(headers[i] ?? "") === H_CONTENT_LENGTH) cl = headers[i + 1];
  }
  const noBody = method === "HEAD" || status === 204 || status === 304;
  let closeAfter = closeWanted;
  let chunked = false;
  let framing = "";
  if (cl !== undefined && status !== 204) framing = `Content-Length: ${cl}\r\n`;
  else if (!noBody) {
    if (clientMinor === 1) {
      chunked = true;
      framing = "Transfer-Encoding: chunked\r\n";
    } else closeAfter = true;
  }
  const connection = closeAfter
    ? "Connection: close\r\n"
    : clientMinor === 0
      ? "Connection: keep-alive\r\n"
      : "";
  const text = `HTTP/1.1 ${status} ${message}\r\n${endToEndLines(headers, connectionListedNames(headers), false)}${framing}Via: 1.1 ${viaToken}\r\n${connection}\r\n`;
  return { text, chunked, closeAfter, noBody };
}

/**
 * What follows the origin's own field lines in a head passed on as bytes (Exchange.
 * onScannedResponse): our Via, Connection as renderResponseHead writes it, the empty line. Made
 * once per Via token and kind.
 */
export function responseTail(viaToken: string, closeAfter: boolean, clientMinor: number): Buffer {
  let tails = tailCache.get(viaToken);
  if (tails === undefined) {
    const via = `Via: 1.1 ${viaToken}\r\n`;
    tails = [
      Buffer.from(`${via}\r\n`, "latin1"),
      Buffer.from(`${via}Connection: close\r\n\r\n`, "latin1"),
      Buffer.from(`${via}Connection: keep-alive\r\n\r\n`, "latin1"),
    ];
    if (tailCache.size >= 8) tailCache.clear();
    tailCache.set(viaToken, tails);
  }
  return tails[closeAfter ? 1 : clientMinor === 0 ? 2 : 0] as Buffer;
}
const tailCache = new Map<string, Buffer[]>();

/** An informational (1xx, not 101) head, passed on as it came. */
export function renderInformational(status: number, message: string, headers: RawHeaders) {
  return `HTTP/1.1 ${status} ${message}\r\n${endToEndLines(headers, undefined, false)}\r\n`;
}

/** The 101 head for the client: the origin's fields, its Upgrade, Connection: Upgrade. */
export function renderSwitching(message: string, headers: RawHeaders): string {
  let upgrade = "";
  for (let i = 0; i < headers.length; i += 2) {
    if (headerClass(headers[i] ?? "") === H_UPGRADE) upgrade = headers[i + 1] ?? "";
  }
  return `HTTP/1.1 101 ${message}\r\n${endToEndLines(headers, undefined, false)}Connection: Upgrade\r\nUpgrade: ${upgrade}\r\n\r\n`;
}

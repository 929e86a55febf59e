// The one place that turns a refusal or a failure into an HTTP answer. Every answer is
// complete and self-contained: a status, a one-line text/plain body, the same line in the
// X-Egress-Router-Error header (for clients that only log headers), `Connection: close`.
// Nothing is left to a hang or a silent close.
import type { DialFailure as ConnectFailure } from "../net/dial.ts";
import type { ResolveFailure } from "../net/resolver.ts";
import type { Decision } from "../policy/decision.ts";
import { describeDecision } from "../policy/decision.ts";

export interface Reject {
  readonly status: number;
  /** one line, printable ASCII (client-supplied parts are escaped by `quoted`) */
  readonly message: string;
}

const reasons: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  408: "Request Timeout",
  417: "Expectation Failed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
  508: "Loop Detected",
};

export const ERROR_HEADER = "X-Egress-Router-Error";

/** A header value in printable ASCII: anything else (an IDN rule text) as \\u escapes. */
function headerSafe(text: string): string {
  return text.replace(
    /[^\x20-\x7e]/gu,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}

/** The full response, ready to write to the client socket. */
export function renderReject(r: Reject, extraHeaders = ""): string {
  const body = `${r.message}\n`;
  return (
    `HTTP/1.1 ${r.status} ${reasons[r.status] ?? "Error"}\r\n` +
    `Content-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `Cache-Control: no-store\r\n` +
    `Connection: close\r\n` +
    `${ERROR_HEADER}: ${headerSafe(r.message)}\r\n` +
    extraHeaders +
    `\r\n` +
    body
  );
}

/** 403: the destination as asked, the reason code and the deciding rule, on one line. */
export function deniedReject(destination: string, decision: Decision): Reject {
  return { status: 403, message: `Egress denied to ${destination}: ${describeDecision(decision)}` };
}

export function resolveReject(
  name: string,
  failure: ResolveFailure,
  code: string,
  timeoutMs: number,
): Reject {
  switch (failure) {
    case "not-found":
      return { status: 502, message: `Cannot resolve "${name}": no such name (${code})` };
    case "timeout":
      return {
        status: 504,
        message: `Cannot resolve "${name}": no answer within ${seconds(timeoutMs)} (${code})`,
      };
    case "failed":
      return { status: 502, message: `Cannot resolve "${name}": ${code}` };
  }
}

export function connectReject(
  destination: string,
  failure: ConnectFailure,
  code: string,
  timeoutMs: number,
): Reject {
  switch (failure) {
    case "refused":
      return {
        status: 502,
        message: `Cannot connect to ${destination}: connection refused (${code})`,
      };
    case "unreachable":
      return { status: 502, message: `Cannot connect to ${destination}: unreachable (${code})` };
    case "reset":
      return {
        status: 502,
        message: `Cannot connect to ${destination}: connection reset (${code})`,
      };
    case "timeout":
      return {
        status: 504,
        message: `Cannot connect to ${destination}: no answer after ${seconds(timeoutMs)}`,
      };
    case "other":
      return { status: 502, message: `Cannot connect to ${destination}: ${code}` };
  }
}

/** The upstream closed without answering, or answered malformed HTTP (an HPE_* code). */
export function noAnswerReject(destination: string, code: string, detail: string): Reject {
  const why = code.startsWith("HPE_")
    ? `the upstream sent a malformed response: ${detail} (${code})`
    : `the upstream closed the connection before answering (${code})`;
  return { status: 502, message: `Cannot get an answer from ${destination}: ${why}` };
}

/** Connected, request sent, nothing back within the idle time. */
export function silentUpstreamReject(destination: string, ms: number): Reject {
  return {
    status: 504,
    message: `Cannot get an answer from ${destination}: nothing received for ${seconds(ms)}`,
  };
}

/** The client stopped sending its request body. */
export function bodyStalledReject(ms: number): Reject {
  return {
    status: 408,
    message: `Cannot read the request body: nothing received for ${seconds(ms)}`,
  };
}

export function seconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

/** What the client gets for a parse error of the request (llhttp's HPE_* code and reason). */
export function parseErrorReject(code: string, reason: string, maxHeaderBytes: number): Reject {
  const why = `${reason.replace(/[^\x20-\x7e]/g, "?")} (${code})`;
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return {
        status: 431,
        message: `Cannot read the request: its head is larger than ${maxHeaderBytes} bytes; raise EGRESS_HTTP_PROXY_MAX_HEADER_BYTES if this is legitimate`,
      };
    case "HPE_INVALID_TRANSFER_ENCODING":
    case "HPE_INVALID_CONTENT_LENGTH":
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
      return {
        status: 400,
        message: `Cannot read the request: ambiguous framing: ${why}; send one Content-Length or "Transfer-Encoding: chunked", not both`,
      };
    case "HPE_PAUSED_H2_UPGRADE":
      return {
        status: 505,
        message: "Cannot serve HTTP/2 with prior knowledge; this proxy speaks HTTP/1.1",
      };
    default:
      if (code === "HPE_INVALID_VERSION" && reason === "Invalid HTTP version") {
        return { status: 505, message: `Cannot read the request: ${why}; use HTTP/1.1` };
      }
      return { status: 400, message: `Cannot read the request: malformed HTTP: ${why}` };
  }
}

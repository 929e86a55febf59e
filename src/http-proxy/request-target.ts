// The two request-target forms a forward proxy serves (RFC 9112 §3.2): absolute-form
// (`GET http://host:port/path`) and authority-form (`CONNECT host:port`). The host goes
// through canonicalHost; the path is passed on exactly as the client sent it (the parser
// has already refused characters that are not allowed in it).
import {
  canonicalHost,
  describeHostProblem,
  hostForAuthority,
  type CanonicalHost,
} from "../policy/canonical-host.ts";

export interface ForwardTarget {
  readonly host: CanonicalHost;
  readonly port: number;
  /** origin-form for the upstream request line: path and query, at least "/" */
  readonly path: string;
  /** the Host header the upstream gets: canonical host, port unless 80 */
  readonly authority: string;
  /** the URL's authority exactly as the client sent it */
  readonly sent: string;
  /** "host:port" with the canonical host and the port always: what logs and answers name */
  readonly destination: string;
}

export interface ConnectTarget {
  readonly host: CanonicalHost;
  readonly port: number;
}

/** Why a target was refused, as the one line of the 400 answer. */
export interface TargetProblem {
  readonly problem: string;
}

const MAX_SHOWN = 120;

/** A client-supplied value made safe for a one-line answer and a header: quoted, escaped, cut. */
export function quoted(value: string): string {
  const cut = value.length > MAX_SHOWN;
  let out = "";
  for (const ch of cut ? value.slice(0, MAX_SHOWN) : value) {
    const c = ch.codePointAt(0) ?? 0;
    out +=
      c >= 0x20 && c < 0x7f && ch !== '"' && ch !== "\\"
        ? ch
        : `\\u${c.toString(16).padStart(4, "0")}`;
  }
  return `"${out}${cut ? "..." : ""}"`;
}

function hostAndPort(
  authority: string,
  defaultPort: number | undefined,
): { host: CanonicalHost; port: number } | TargetProblem {
  const at = authority.lastIndexOf("@");
  if (at !== -1) {
    // The answer (body and header) is what client libraries log on errors: no password in it.
    const shown = `<credentials>${authority.slice(at)}`;
    return {
      problem: `Cannot use ${quoted(shown)}: credentials in the URL are refused (they would be logged and forwarded); send them in an Authorization header`,
    };
  }
  let hostText: string;
  let portText: string | undefined;
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close === -1) return { problem: `Cannot parse host ${quoted(authority)}: "[" without "]"` };
    hostText = authority.slice(0, close + 1);
    const rest = authority.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":")) {
      return { problem: `Cannot parse ${quoted(authority)}: expected ":port" after "]"` };
    }
    portText = rest === "" ? undefined : rest.slice(1);
  } else {
    const colon = authority.lastIndexOf(":");
    hostText = colon === -1 ? authority : authority.slice(0, colon);
    portText = colon === -1 ? undefined : authority.slice(colon + 1);
    if (hostText.includes(":")) {
      return {
        problem: `Cannot parse ${quoted(authority)}: an IPv6 address must be in brackets, e.g. [2001:db8::1]:443`,
      };
    }
  }
  let port: number;
  if (portText === undefined || portText === "") {
    if (defaultPort === undefined) {
      return {
        problem: `Cannot use ${quoted(authority)}: CONNECT needs host:port, e.g. example.com:443`,
      };
    }
    port = defaultPort;
  } else {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) {
      return { problem: `Cannot use port ${quoted(portText)}: use a number from 1 to 65535` };
    }
  }
  const host = canonicalHost(hostText);
  if (typeof host === "string") {
    return { problem: `Cannot use host ${quoted(hostText)}: ${describeHostProblem(host)}` };
  }
  return { host, port };
}

/**
 * `http://host[:port][/path][?query]` → where to forward and what to send. `previous` is the
 * connection's last target: when the client sent the same authority again (keep-alive
 * requests to one server), its canonical host is taken over instead of worked out again.
 */
export function parseAbsoluteTarget(
  url: string,
  previous?: ForwardTarget,
): ForwardTarget | TargetProblem {
  const lower = url.slice(0, 8).toLowerCase();
  if (!lower.startsWith("http://")) {
    if (url.startsWith("/")) {
      return {
        problem: `Cannot forward ${quoted(url)}: this is a proxy; send the absolute URL (GET http://host/path), e.g. curl -x http://proxy:8080 http://host/path`,
      };
    }
    if (lower === "https://") {
      return {
        problem: `Cannot forward ${quoted(url)}: https goes through a CONNECT tunnel; use https_proxy or curl -x with an https:// URL`,
      };
    }
    return { problem: `Cannot forward ${quoted(url)}: only http:// URLs and CONNECT are served` };
  }
  if (url.includes("#")) {
    return { problem: `Cannot forward ${quoted(url)}: a request target has no fragment ("#")` };
  }
  let end = url.length;
  for (let i = 7; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x2f /* / */ || c === 0x3f /* ? */) {
      end = i;
      break;
    }
  }
  let path = url.slice(end);
  if (path === "") path = "/";
  else if (path.charCodeAt(0) === 0x3f /* ? */) path = `/${path}`;
  const sent = url.slice(7, end);
  if (previous !== undefined && previous.sent === sent) {
    return {
      host: previous.host,
      port: previous.port,
      path,
      authority: previous.authority,
      sent,
      destination: previous.destination,
    };
  }
  const hp = hostAndPort(sent, 80);
  if ("problem" in hp) return hp;
  const host = hostForAuthority(hp.host);
  return {
    host: hp.host,
    port: hp.port,
    path,
    authority: hp.port === 80 ? host : `${host}:${hp.port}`,
    sent,
    destination: `${host}:${hp.port}`,
  };
}

/** `host:port` of a CONNECT request. */
export function parseConnectTarget(authority: string): ConnectTarget | TargetProblem {
  return hostAndPort(authority, undefined);
}

// Logs: JSON lines through pino, one line per decision and one per connection close, with
// the fixed field names below (docs/metrics.md lists them; a test keeps both in sync).
// Human-readable text when stdout is a terminal. The data path never imports this module:
// `subscribeLogs` turns the events of events.ts into lines.
import { pino } from "pino";
import type { Logger } from "pino";
import type {
  ConnectionCloseEvent,
  ConnectionOpenEvent,
  DecisionEvent,
  RedirectEvent,
  ReloadEvent,
  ResolveEvent,
  UpstreamErrorEvent,
  UpstreamHealthEvent,
} from "./events.ts";
import { channels } from "./events.ts";
import { createLineWriter } from "./line-writer.ts";
import { redact } from "./redact.ts";

export type { Logger } from "pino";

/** Every field our log lines may carry, besides pino's `level`, `time` and `msg`. */
export const logFields = {
  mode: "Mode of the router that wrote the line: http-proxy, dns-proxy, redirect or the daemon's mode name.",
  event:
    "What the line is about: decision, connection-open, connection-close, upstream-error, upstream-health, resolve, reload, redirect, lifecycle, admin.",
  client: "Client address and port, `ip:port`.",
  listener: "The data listener the connection arrived on (its port).",
  destination:
    "Destination as the client asked for it, `host:port` (credentials and query strings removed).",
  address: "The checked address that was dialled (after resolution), when there was one.",
  action: "allow or deny.",
  reason: "Why, from the policy's closed list of reasons (kebab-case).",
  rule_line:
    "Line of the rule that decided or that the connection used (1-based), when a rule matched.",
  audit: "true: the rules would deny this, audit mode allowed it.",
  bytes_from_client: "Bytes received from the client over the connection's life.",
  bytes_to_client: "Bytes sent to the client over the connection's life.",
  duration_ms: "How long the connection lasted, in milliseconds.",
  end: "How the connection ended: done, client-reset, upstream-reset, idle-timeout, connect-failed, denied, limit, drain or error.",
  status:
    "HTTP proxy, on connection closed: the status of the last refusal the proxy answered itself (400, 403, 408, 502, 504…).",
  kind: "Kind of upstream connect error: refused, timeout, unreachable, reset, resolve-failed, no-address or other.",
  cause:
    "What marked an upstream address down or up: connect (a client's connection attempt) or check (an active health check).",
  retry_at:
    "An address marked down after a failed connect: when it may be tried again (ISO 8601); absent while it waits for a health check to pass.",
  error: "An error message (credentials removed).",
  name: "A DNS name being resolved.",
  addresses: "The addresses a name resolved to.",
  ttl_seconds: "TTL of a DNS answer, when known.",
  stale: "true: a failed re-resolution, the last good addresses stay in use.",
  setting: "The setting a reload or problem is about, e.g. EGRESS_HTTP_PROXY_DESTINATION.",
  result: "Outcome of a reload: applied, rejected, unchanged or restart-needed.",
  trigger: "What started a reload: start, watch, poll or signal.",
  problems:
    "Every problem found in a rejected configuration, one message each; with config applied (at warn level), what was accepted but is probably not meant.",
  signal: "The signal received (SIGTERM, SIGINT, SIGHUP).",
  drain_seconds: "Graceful shutdown: how long open connections may take to finish.",
  url: "Where the admin server listens.",
  version: "Version of the router.",
  dropped: "How many log lines were dropped because stdout did not take them (a stuck log reader).",
  repeated:
    "upstream connect failed: how many more failures like this one (same destination, address and kind) were not logged in the 10 s before; the metrics count every one.",
  change:
    "Redirect mode: what network set-up changed (address, route, kernel setting, announcement).",
} as const;

export type LogField = keyof typeof logFields;
export type LogRecord = { readonly [K in LogField]?: unknown };

/** Every `msg` our lines use: fixed lower-case phrases, variable data goes into fields. */
export const logMessages = {
  "connection decided": "One per decision (allow, deny, or audit: would deny).",
  "connection opened": "Debug level (or EGRESS_DNS_PROXY_DEBUG for the DNS proxy).",
  "connection closed":
    "One per connection close, with bytes, duration and how it ended (DNS proxy: at debug level unless EGRESS_DNS_PROXY_DEBUG).",
  "upstream connect failed":
    "A connect to an upstream failed. Repeats (same destination, address and kind) are logged at most once per 10 s, with `repeated`.",
  "upstream marked down":
    "An address of a DNS-proxy destination is no longer used: a connect to it failed, or health checks did.",
  "upstream back up": "An address that was down connected again, or passed its health checks.",
  "name resolved": "Debug level: a DNS name resolved.",
  "name resolution failed":
    "A DNS name could not be resolved; the last good addresses stay in use when `stale` is true.",
  "config applied": "A new configuration is serving.",
  "config reload rejected":
    "A new configuration was refused; the old one keeps serving. `problems` lists why.",
  "config unchanged": "Debug level: the watched files changed but the rules did not.",
  "restart needed": "A setting that cannot change at run time changed; restart to apply it.",
  "router starting": "The daemon is starting.",
  "admin server listening": "The admin server is up.",
  "router ready": "Network set-up is done and every listener is up.",
  "shutdown started": "A signal asked for a graceful shutdown; readiness is false from here on.",
  "shutdown complete": "Every connection is finished or closed; the process exits.",
  "shutdown already in progress": "A second signal during the drain.",
  "reload requested": "SIGHUP: the rule files are read again and applied.",
  "rules watch failed": "The rule file's directory cannot be watched; polling goes on.",
  "network changed":
    "Redirect mode's network set-up changed something; `change` says what. Nothing is logged when all was in place.",
  "redirect warning":
    "Redirect mode: something the operator should know that does not stop the router (`error`).",
  "log lines dropped":
    "Stdout did not take log lines for a while and more than 8 MiB waited; `dropped` says how many lines were lost. Routing was not held up.",
  "unexpected error": "A bug: an error nothing else handled. The router keeps running when it can.",
} as const;

export type LogMessage = keyof typeof logMessages;

export type LogFormat = "json" | "text";

export interface LogOptions {
  readonly format: LogFormat;
  readonly level: "debug" | "info" | "warn" | "error";
  /** EGRESS_DNS_PROXY_DEBUG: DNS-proxy connection opens and resolutions at info level */
  readonly dnsProxyDebug: boolean;
  /** where lines go; stdout when not given */
  readonly destination?: { write(line: string): unknown };
  /** colours in text format */
  readonly colour?: boolean;
}

/** Builds a record from known fields only, with every string run through `redact`. */
export function fields(record: LogRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in record) {
    const v = record[k as LogField];
    if (v === undefined) continue;
    out[k] = clean(v);
  }
  return out;
}

let isoSecond = -1;
let isoPrefix = "";
/**
 * pino's isoTime, `,"time":"2026-01-02T03:04:05.678Z"`, without a Date and its formatting
 * per line (the largest part of a log line's cost): the text up to the second is kept and
 * only the milliseconds are written each time.
 */
export function isoTime(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = `,"time":"${new Date(second * 1000).toISOString().slice(0, 20)}`;
  }
  const ms = now - second * 1000;
  return `${isoPrefix}${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}Z"`;
}

function clean(v: unknown): unknown {
  if (typeof v === "string") return redact(v);
  if (Array.isArray(v)) return v.map(clean);
  return v;
}

/**
 * A logger writing JSON lines (or text) to stdout in batches (line-writer.ts), or to
 * `options.destination`. Every thread that logs makes its own; lines of different threads
 * never interleave. Fields are only the catalogued ones and their strings are already
 * redacted by `fields`, so pino's own path redaction (costly per line) is not used.
 */
export function createLogger(options: LogOptions): Logger {
  const out =
    options.destination ??
    createLineWriter({
      onDropped: (count) => {
        logEvent(logger, "warn", "log lines dropped", { dropped: count });
      },
    });
  const stream = options.format === "text" ? textStream(out, options.colour ?? false) : out;
  const logger: Logger = pino(
    {
      level: options.level,
      base: undefined,
      timestamp: () => isoTime(),
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  // Our own lines skip pino's generic serializer (see jsonLine); pino stays the Logger.
  (logger as LoggerWithLines)[kLines] = stream;
  return logger;
}

const kLines = Symbol("egress-router-lines");
type LoggerWithLines = Logger & { [kLines]?: { write(line: string): unknown } };

/**
 * The JSON line pino writes for `logger[level](fields(rec), msg)` with createLogger's
 * options, byte for byte, built directly: the catalogued fields are known (plain keys,
 * strings, numbers, booleans, lists of strings), so pino's generic walk over the object, its
 * per-key escaping and its formatters are not needed. A log line per request and per
 * connection is the largest part of the data path's observing cost; this halves it.
 */
export function jsonLine(level: string, msg: LogMessage, rec: LogRecord): string {
  return `{"level":"${level}"${isoTime()}${jsonTail(msg, rec)}`;
}

/** What follows the level and time in a JSON line: the fields, the message, the newline. */
function jsonTail(msg: LogMessage, rec: LogRecord): string {
  let tail = "";
  for (const k in rec) {
    const v = rec[k as LogField];
    if (v === undefined) continue;
    tail += `,"${k}":${jsonValue(v)}`;
  }
  return `${tail},"msg":"${msg}"}\n`;
}

function jsonValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(redact(v));
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  return JSON.stringify(clean(v)) ?? "null";
}

const levelColour: Record<string, string> = {
  debug: "\x1b[90m",
  info: "\x1b[32m",
  warn: "\x1b[33m",
  error: "\x1b[31m",
  fatal: "\x1b[31m",
};

/** One JSON line → `12:00:01.123 INFO  connection closed client=… end=done`. */
export function formatText(line: string, colour: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, ...rest } = rec;
  const t = typeof time === "string" ? time.slice(11, 23) : "";
  const lv = typeof level === "string" ? level.toUpperCase() : "";
  const parts = Object.entries(rest).map(([k, v]) => {
    const s = typeof v === "string" ? v : JSON.stringify(v);
    return `${k}=${typeof v === "string" && /[\s"=]/.test(s) ? JSON.stringify(s) : s}`;
  });
  const head = colour ? `${levelColour[String(level)] ?? ""}${lv.padEnd(5)}\x1b[0m` : lv.padEnd(5);
  return `${t} ${head} ${typeof msg === "string" ? msg : ""}${parts.length ? "  " + parts.join(" ") : ""}\n`;
}

function textStream(out: { write(line: string): unknown }, colour: boolean) {
  return {
    write(chunk: string) {
      for (const line of chunk.split("\n")) if (line) out.write(formatText(line, colour));
    },
  };
}

function log(
  logger: Logger,
  level: "debug" | "info" | "warn" | "error",
  msg: LogMessage,
  rec: LogRecord,
): void {
  if (!logger.isLevelEnabled(level)) return;
  const out = (logger as LoggerWithLines)[kLines];
  if (out !== undefined) out.write(jsonLine(level, msg, rec));
  else logger[level](fields(rec), msg);
}

/**
 * `log` for an event published again and again as the same object (a keep-alive
 * connection's repeated decision, see http-proxy/route.ts): its fields are rendered once and
 * kept with the object; each line only adds the level and the time. Byte for byte what `log`
 * writes (log.test.ts).
 */
function logRepeatable<E extends object>(
  logger: Logger,
  tails: WeakMap<E, string>,
  event: E,
  level: "debug" | "info" | "warn" | "error",
  msg: LogMessage,
  record: (event: E) => LogRecord,
): void {
  if (!logger.isLevelEnabled(level)) return;
  const out = (logger as LoggerWithLines)[kLines];
  if (out === undefined) return logger[level](fields(record(event)), msg);
  let tail = tails.get(event);
  if (tail === undefined) {
    // Built by concatenation, the text is a tree of pieces that every line would walk again
    // when the writer copies it out (that walk was most of the writer's cost): keep it flat.
    tail = JSON.parse(JSON.stringify(jsonTail(msg, record(event)))) as string;
    tails.set(event, tail);
  }
  out.write(`{"level":"${level}"${isoTime()}${tail}`);
}

/** Writes one line with a catalogued message; the daemon's own lifecycle lines use it. */
export function logEvent(
  logger: Logger,
  level: "debug" | "info" | "warn" | "error",
  msg: LogMessage,
  rec: LogRecord = {},
): void {
  log(logger, level, msg, rec);
}

function decisionRecord(e: DecisionEvent): LogRecord {
  return {
    event: "decision",
    mode: e.mode,
    client: e.client,
    destination: e.destination,
    address: e.address,
    action: e.action,
    reason: e.reason,
    rule_line: e.ruleLine,
    audit: e.audit,
  };
}

/** Subscribes the log lines to the data path's events; returns the unsubscribe function. */
export function subscribeLogs(
  logger: Logger,
  options: Pick<LogOptions, "dnsProxyDebug"> & {
    /** how long repeats of an upstream connect failure are counted before a line; 10 s */
    readonly upstreamRepeatMs?: number;
  },
): () => void {
  const upstreamRepeatMs = options.upstreamRepeatMs ?? 10_000;
  const dnsLevel = options.dnsProxyDebug ? "info" : "debug";
  const decisionTails = new WeakMap<DecisionEvent, string>();
  const onDecision = (m: unknown) => {
    const e = m as DecisionEvent;
    const level = e.action === "deny" || e.audit ? "warn" : "info";
    logRepeatable(logger, decisionTails, e, level, "connection decided", decisionRecord);
  };
  const onOpen = (m: unknown) => {
    const e = m as ConnectionOpenEvent;
    log(logger, e.mode === "dns-proxy" ? dnsLevel : "debug", "connection opened", {
      event: "connection-open",
      mode: e.mode,
      listener: e.listener,
      client: e.client,
      destination: e.destination,
      rule_line: e.ruleLine,
    });
  };
  const onClose = (m: unknown) => {
    const e = m as ConnectionCloseEvent;
    log(logger, e.mode === "dns-proxy" ? dnsLevel : "info", "connection closed", {
      event: "connection-close",
      mode: e.mode,
      listener: e.listener,
      client: e.client,
      destination: e.destination,
      address: e.address,
      rule_line: e.ruleLine,
      bytes_from_client: e.bytesFromClient,
      bytes_to_client: e.bytesToClient,
      duration_ms: Math.round(e.durationMs),
      end: e.end,
      status: e.status,
    });
  };
  // A destination that is down fails every client that tries it: one line per failure would
  // bury everything else (a client retrying in a loop writes thousands a second). The first
  // failure of a kind is logged at once; its repeats in the next 10 s are counted and told in
  // one line when the 10 s are over. Metrics count every failure.
  const repeats = new Map<
    string,
    { event: UpstreamErrorEvent; count: number; timer: NodeJS.Timeout | undefined }
  >();
  const upstreamLine = (e: UpstreamErrorEvent, repeated: number | undefined) => {
    log(logger, "warn", "upstream connect failed", {
      event: "upstream-error",
      mode: e.mode,
      destination: e.destination,
      address: e.address,
      kind: e.kind,
      error: e.message,
      repeated,
    });
  };
  const windowOver = (key: string) => {
    const r = repeats.get(key);
    if (r === undefined) return;
    if (r.count === 0) {
      repeats.delete(key);
      return;
    }
    upstreamLine(r.event, r.count);
    r.count = 0;
    r.timer = setTimeout(windowOver, upstreamRepeatMs, key);
    r.timer.unref();
  };
  const onUpstreamError = (m: unknown) => {
    const e = m as UpstreamErrorEvent;
    if (!logger.isLevelEnabled("warn")) return;
    const key = `${e.mode}\u0000${e.destination}\u0000${e.address ?? ""}\u0000${e.kind}`;
    const r = repeats.get(key);
    if (r !== undefined) {
      r.event = e;
      r.count += 1;
      return;
    }
    upstreamLine(e, undefined);
    const timer = setTimeout(windowOver, upstreamRepeatMs, key);
    timer.unref();
    repeats.set(key, { event: e, count: 0, timer });
  };
  const onUpstreamHealth = (m: unknown) => {
    const e = m as UpstreamHealthEvent;
    log(logger, e.up ? "info" : "warn", e.up ? "upstream back up" : "upstream marked down", {
      event: "upstream-health",
      mode: e.mode,
      destination: e.destination,
      address: e.address,
      cause: e.cause,
      kind: e.error,
      retry_at:
        e.retryAt === undefined || !Number.isFinite(e.retryAt)
          ? undefined
          : new Date(e.retryAt).toISOString(),
    });
  };
  const onResolve = (m: unknown) => {
    const e = m as ResolveEvent;
    if (e.ok) {
      log(logger, dnsLevel, "name resolved", {
        event: "resolve",
        name: e.name,
        addresses: e.addresses,
        ttl_seconds: e.ttlSeconds,
      });
    } else {
      log(logger, "warn", "name resolution failed", {
        event: "resolve",
        name: e.name,
        error: e.error,
        stale: e.stale,
        addresses: e.stale ? e.addresses : undefined,
      });
    }
  };
  const onReload = (m: unknown) => {
    const e = m as ReloadEvent;
    const rec: LogRecord = {
      event: "reload",
      setting: e.setting,
      result: e.result,
      trigger: e.trigger,
      problems: e.problems.length ? e.problems : undefined,
    };
    switch (e.result) {
      case "applied":
        log(logger, e.problems.length > 0 ? "warn" : "info", "config applied", rec);
        break;
      case "rejected":
        log(logger, "error", "config reload rejected", rec);
        break;
      case "unchanged":
        log(logger, "debug", "config unchanged", rec);
        break;
      case "restart-needed":
        log(logger, "warn", "restart needed", rec);
        break;
    }
  };
  const onRedirect = (m: unknown) => {
    const e = m as RedirectEvent;
    if (e.kind === "change")
      log(logger, "info", "network changed", {
        event: "redirect",
        mode: "redirect",
        change: e.message,
      });
    else
      log(logger, "warn", "redirect warning", {
        event: "redirect",
        mode: "redirect",
        error: e.message,
      });
  };
  const subs = [
    [channels.redirect, onRedirect],
    [channels.decision, onDecision],
    [channels.connectionOpen, onOpen],
    [channels.connectionClose, onClose],
    [channels.upstreamError, onUpstreamError],
    [channels.upstreamHealth, onUpstreamHealth],
    [channels.resolve, onResolve],
    [channels.reload, onReload],
  ] as const;
  for (const [ch, fn] of subs) ch.subscribe(fn);
  return () => {
    for (const [ch, fn] of subs) ch.unsubscribe(fn);
    // Repeats still being counted are told now (shutdown), not lost.
    for (const r of repeats.values()) {
      clearTimeout(r.timer);
      if (r.count > 0) upstreamLine(r.event, r.count);
    }
    repeats.clear();
  };
}

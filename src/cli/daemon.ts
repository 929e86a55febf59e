// The daemon host: runs one long-lived mode (HTTP proxy, DNS proxy, legacy redirect) with
// everything an operator needs around it — admin server (metrics, health, readiness,
// status page), logs, hot reload of the rule file, SIGHUP, and a graceful SIGTERM.
//
// A mode only supplies a ModeDefinition (compile rule text purely; create a Service).
// Order at start: settings → logs and metrics → compile the rules (a bad config exits 1
// with every problem, before any port is opened) → admin server (healthz answers, readyz
// says "starting") → `prepare` (network set-up) → service.start() → ready → watch the
// rule file.
import { isIP } from "node:net";
import { join } from "node:path";
import type { SettingSpec } from "../config/catalogue.ts";
import { settings } from "../config/catalogue.ts";
import type { ConfigProblem } from "../config/config-error.ts";
import { ConfigError } from "../config/config-error.ts";
import type { Env, Flags } from "../config/read-setting.ts";
import { fileEnvName, readSetting } from "../config/read-setting.ts";
import { mergeActivity, trackActivity } from "../observe/activity.ts";
import type { AdminServer } from "../observe/admin-server.ts";
import { shuttingDown, startAdminServer } from "../observe/admin-server.ts";
import type { ReloadResult, ReloadTrigger } from "../observe/events.ts";
import { publishReload } from "../observe/events.ts";
import type { Logger, LogFormat } from "../observe/log.ts";
import { createLogger, logEvent, subscribeLogs } from "../observe/log.ts";
import { createMetrics, renderMetrics } from "../observe/metrics.ts";
import type { Service } from "../observe/service.ts";
import type { ModeDefinition } from "../observe/service.ts";
import { renderStatus } from "../observe/status-page.ts";
import type { StatusSnapshot } from "../observe/status-page.ts";
import type { FileWatch } from "../reload/watch-files.ts";
import { watchFiles } from "../reload/watch-files.ts";
import { version } from "../version.ts";

export interface DaemonOptions {
  readonly env: Env;
  readonly flags?: Flags;
  /**
   * Settings the mode reads once at start and cannot change while running (source IP,
   * gateway). A reload that finds one changed reports it as needing a restart.
   */
  readonly fixedSettings?: readonly SettingSpec[];
  /** Network set-up before the service starts; readiness waits for it. */
  readonly prepare?: () => Promise<void>;
  /** The source address to show on the status page; default: EGRESS_SOURCE when set. */
  readonly source?: string;
  /** Where log lines go (tests); default stdout. */
  readonly logDestination?: { write(line: string): unknown };
  /** Reload watcher tuning (tests); defaults 250 ms and 10 s. */
  readonly debounceMs?: number;
  readonly pollMs?: number;
  /**
   * Extra reasons not to be ready, asked on every readiness check (high availability: "not
   * the holder of the source address"). Empty: no objection.
   */
  readonly readinessGate?: () => readonly string[];
}

export interface Daemon {
  /** `http://host:port` of the admin server; undefined when turned off */
  readonly adminUrl: string | undefined;
  readonly logger: Logger;
  isReady(): boolean;
  /** Re-reads the rules; `force` applies them even when the text did not change (SIGHUP). */
  reload(trigger: ReloadTrigger, force?: boolean): Promise<ReloadResult>;
  /** Readiness false, stop accepting, drain up to the drain time, close. Resolves the exit code. */
  shutdown(signal: string): Promise<number>;
}

interface DaemonSettings {
  adminAddress: string;
  adminAddressIsDefault: boolean;
  adminPort: number;
  drainMs: number;
  format: LogFormat;
  level: "debug" | "info" | "warn" | "error";
  dnsProxyDebug: boolean;
}

const stopGraceMs = 5000;

/** Finds the catalogue entry of a mode's rules setting (modes outside the catalogue: tests). */
export function rulesSpec(env: string): SettingSpec {
  const known = Object.values(settings).find((s) => s.env === env);
  if (known) return known;
  return {
    env,
    flag: env
      .toLowerCase()
      .replace(/^egress_/, "")
      .replaceAll("_", "-"),
    fromFile: true,
    default: undefined,
    reloadable: true,
    openshift: false,
    summary: "rules",
    flagType: "string",
    check: undefined,
  };
}

function invalid(spec: SettingSpec, value: string, state: string, fix: string): ConfigProblem {
  return {
    code: "setting-invalid",
    setting: spec.env,
    message: `${spec.env}: Cannot use "${value}": ${state}; ${fix}`,
  };
}

function readDaemonSettings(env: Env, flags: Flags, isTty: boolean): DaemonSettings {
  const problems: ConfigProblem[] = [];
  const origins = new Map<string, string>();
  const get = (spec: SettingSpec): string => {
    const r = readSetting(spec, env, flags);
    problems.push(...r.problems);
    origins.set(spec.env, r.setting.origin);
    return (r.setting.value ?? "").trim();
  };
  const adminAddress = get(settings.adminAddress);
  if (isIP(adminAddress) === 0)
    problems.push(
      invalid(
        settings.adminAddress,
        adminAddress,
        "not an IP address",
        'use e.g. "::", "0.0.0.0" or "127.0.0.1"',
      ),
    );
  const portText = get(settings.adminPort);
  const adminPort = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(adminPort >= 0 && adminPort <= 65535))
    problems.push(
      invalid(
        settings.adminPort,
        portText,
        "not a port number",
        "use 1-65535, or 0 to turn the admin server off",
      ),
    );
  const drainText = get(settings.drainSeconds);
  const drain = /^\d+(\.\d+)?$/.test(drainText) ? Number(drainText) : NaN;
  if (!(drain >= 0 && drain <= 86400))
    problems.push(
      invalid(
        settings.drainSeconds,
        drainText,
        "not a number of seconds",
        "use a number from 0 to 86400, e.g. 30",
      ),
    );
  const formatText = get(settings.logFormat);
  if (!["auto", "json", "text"].includes(formatText))
    problems.push(
      invalid(settings.logFormat, formatText, "not a log format", 'use "auto", "json" or "text"'),
    );
  const levelText = get(settings.logLevel);
  if (!["debug", "info", "warn", "error"].includes(levelText))
    problems.push(
      invalid(
        settings.logLevel,
        levelText,
        "not a log level",
        'use "debug", "info", "warn" or "error"',
      ),
    );
  const routerDebug = get(settings.routerDebug) !== "";
  const dnsProxyDebug = get(settings.dnsProxyDebug) !== "";
  if (problems.length) throw new ConfigError(problems);
  return {
    adminAddress,
    adminAddressIsDefault: origins.get(settings.adminAddress.env) === "default",
    adminPort,
    drainMs: Math.round(drain * 1000),
    format: formatText === "auto" ? (isTty ? "text" : "json") : (formatText as LogFormat),
    level: routerDebug ? "debug" : (levelText as DaemonSettings["level"]),
    dnsProxyDebug,
  };
}

function problemsOf(err: unknown): string[] {
  if (err instanceof ConfigError) return err.problems.map((p) => p.message);
  return [`Cannot apply the configuration: ${err instanceof Error ? err.message : String(err)}`];
}

/** Starts a mode with its admin server, logs, metrics and reload watcher; no signal handlers. */
export async function startDaemon<C>(
  definition: ModeDefinition<C>,
  options: DaemonOptions,
): Promise<Daemon> {
  const env = options.env;
  const flags = options.flags ?? {};
  const isTty = options.logDestination === undefined && process.stdout.isTTY === true;
  const ds = readDaemonSettings(env, flags, isTty);
  const logger = createLogger({
    format: ds.format,
    level: ds.level,
    dnsProxyDebug: ds.dnsProxyDebug,
    colour: isTty,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  const unsubscribeLogs = subscribeLogs(logger, { dnsProxyDebug: ds.dnsProxyDebug });
  const metrics = createMetrics({ version, mode: definition.mode });
  const activity = trackActivity();
  const spec = rulesSpec(definition.rulesSetting);
  const fixed = options.fixedSettings ?? [];
  const fixedAtStart = new Map(fixed.map((s) => [s.env, readSetting(s, env, flags).setting.value]));
  const source = options.source ?? readSetting(settings.source, env, flags).setting.value;
  const startedAt = new Date();
  logEvent(logger, "info", "router starting", { mode: definition.mode, version });

  let setupDone = false;
  let started = false;
  let draining = false;
  let service: Service<C> | undefined;
  let lastSeenText: string | undefined;
  let appliedAt: Date | undefined;
  let origin = ""; // where the last read came from
  let servingOrigin = ""; // where the serving rules came from
  let lastReloadOk = true;
  let watch: FileWatch | undefined;
  let admin: AdminServer | undefined;
  let reloadChain: Promise<unknown> = Promise.resolve();
  let shutdownPromise: Promise<number> | undefined;

  const readiness = () => {
    const reasons: string[] = [];
    if (draining) reasons.push(shuttingDown);
    if (!setupDone) reasons.push("network set-up not done");
    if (!started) reasons.push("listeners starting");
    else if (service) {
      for (const l of service.status().listeners)
        if (!l.up) reasons.push(`listener ${l.address}:${l.port} down`);
    }
    if (options.readinessGate) reasons.push(...options.readinessGate());
    return { ready: reasons.length === 0, reasons };
  };

  const snapshot = (): StatusSnapshot => {
    const r = readiness();
    const status = service?.status();
    const own = activity.snapshot();
    // A service whose data path runs on other threads has their activity too.
    const others = service?.threadActivity?.() ?? [];
    const seen = others.length > 0 ? mergeActivity([own, ...others]) : own;
    return {
      mode: definition.mode,
      version,
      source,
      ready: r.ready,
      notReady: r.reasons,
      draining,
      restartNeeded: [...reportedFixed.values()].map((r) => r.message),
      startedAt: startedAt.toISOString(),
      config: {
        setting: spec.env,
        origin: servingOrigin,
        appliedAt: appliedAt?.toISOString(),
        lastReloadOk,
      },
      service: status,
      activity: status?.openConnections
        ? { ...seen, openConnections: status.openConnections }
        : seen,
    };
  };

  const readRules = (): { text: string } | { problems: string[] } => {
    const r = readSetting(spec, env, flags);
    origin = r.setting.origin;
    if (r.problems.length) return { problems: r.problems.map((p) => p.message) };
    if (r.setting.value === undefined)
      return {
        problems: [
          `${spec.env}: Cannot start without rules: it is not set; set ${spec.env} or ${fileEnvName(spec)}`,
        ],
      };
    return { text: r.setting.value };
  };

  const reportedFixed = new Map<string, { value: string | undefined; message: string }>();
  const checkFixed = (trigger: ReloadTrigger): void => {
    for (const s of fixed) {
      const now = readSetting(s, env, flags).setting.value;
      const before = fixedAtStart.get(s.env);
      if (now === before) {
        reportedFixed.delete(s.env);
        continue;
      }
      const said = reportedFixed.get(s.env);
      if (said && said.value === now) continue; // said once per new value
      const message = `${s.env}: Cannot change "${before ?? ""}" to "${now ?? ""}" at run time: the router keeps using "${before ?? ""}"; restart it to apply the change`;
      reportedFixed.set(s.env, { value: now, message });
      publishReload({ setting: s.env, result: "restart-needed", trigger, problems: [message] });
    }
  };

  const doReload = async (trigger: ReloadTrigger, force: boolean): Promise<ReloadResult> => {
    if (draining || !service) return "unchanged";
    checkFixed(trigger);
    const read = readRules();
    if ("problems" in read) {
      // a file that stays unreadable is reported once, not on every poll
      const key = `\u0000${read.problems.join("\n")}`;
      if (!force && key === lastSeenText) return "unchanged";
      lastSeenText = key;
      lastReloadOk = false;
      publishReload({ setting: spec.env, result: "rejected", trigger, problems: read.problems });
      return "rejected";
    }
    if (!force && read.text === lastSeenText) {
      if (trigger === "watch")
        publishReload({ setting: spec.env, result: "unchanged", trigger, problems: [] });
      return "unchanged";
    }
    lastSeenText = read.text;
    let compiled: C;
    try {
      compiled = definition.compile(read.text);
    } catch (err) {
      lastReloadOk = false;
      publishReload({ setting: spec.env, result: "rejected", trigger, problems: problemsOf(err) });
      return "rejected";
    }
    try {
      await service.apply(compiled);
    } catch (err) {
      lastReloadOk = false;
      publishReload({ setting: spec.env, result: "rejected", trigger, problems: problemsOf(err) });
      return "rejected";
    }
    appliedAt = new Date();
    servingOrigin = origin;
    lastReloadOk = true;
    const warnings = definition.warnings?.(compiled) ?? [];
    publishReload({ setting: spec.env, result: "applied", trigger, problems: warnings });
    return "applied";
  };

  const reload = (trigger: ReloadTrigger, force = false): Promise<ReloadResult> => {
    const next = reloadChain.then(() => doReload(trigger, force));
    reloadChain = next.catch(() => undefined);
    return next;
  };

  const onInternalError = (err: Error) =>
    logEvent(logger, "error", "unexpected error", { error: err.stack ?? err.message });

  const cleanup = async () => {
    watch?.close();
    await admin?.close();
    unsubscribeLogs();
    metrics.close();
    activity.close();
  };

  try {
    // The rules first: bad rules exit with their own (OpenShift) message before any port
    // is opened, whatever else is wrong.
    const first = readRules();
    if ("problems" in first) {
      throw new ConfigError(
        first.problems.map((message) => ({ code: "file-unreadable", setting: spec.env, message })),
      );
    }
    const config = definition.compile(first.text); // ConfigError: main prints every problem
    lastSeenText = first.text;

    if (ds.adminPort !== 0) {
      const { page, fragment, script, style } = renderStatus;
      try {
        const handlers = {
          readiness,
          statusJson: snapshot,
          metrics: async () => ({
            contentType: metrics.registry.contentType,
            // with the counts of the service's other threads, if it has any
            body: await renderMetrics(metrics.registry, (await service?.metricFamilies?.()) ?? []),
          }),
          page: () => page(snapshot()),
          fragment: () => fragment(snapshot()),
          script,
          style,
        };
        try {
          admin = await startAdminServer(ds.adminAddress, ds.adminPort, handlers, onInternalError);
        } catch (err) {
          // The default "::" on a host without IPv6 (some clusters turn it off): use IPv4.
          const code = (err as NodeJS.ErrnoException).code;
          const v6Missing = code === "EAFNOSUPPORT" || code === "EADDRNOTAVAIL";
          if (!(v6Missing && ds.adminAddress === "::" && ds.adminAddressIsDefault)) throw err;
          admin = await startAdminServer("0.0.0.0", ds.adminPort, handlers, onInternalError);
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const state =
          code === "EADDRINUSE"
            ? "the port is in use"
            : code === "EADDRNOTAVAIL"
              ? "the address is not on this host"
              : code === "EACCES"
                ? "permission denied"
                : (err as Error).message;
        throw new ConfigError([
          {
            code: "setting-invalid",
            setting: settings.adminPort.env,
            message: `${settings.adminPort.env}: Cannot listen on ${ds.adminAddress} port ${ds.adminPort}: ${state}; choose another ${settings.adminPort.env} or ${settings.adminAddress.env}`,
          },
        ]);
      }
      logEvent(logger, "info", "admin server listening", { url: admin.url });
    }

    if (options.prepare) await options.prepare();
    setupDone = true;
    service = definition.create(config, {
      log: { format: ds.format, level: ds.level, dnsProxyDebug: ds.dnsProxyDebug, colour: isTty },
      version,
    });
    await service.start();
    started = true;
    appliedAt = new Date();
    servingOrigin = origin;
    const warnings = definition.warnings?.(config) ?? [];
    publishReload({ setting: spec.env, result: "applied", trigger: "start", problems: warnings });
  } catch (err) {
    if (service) await service.stop(0).catch(() => undefined);
    await cleanup();
    throw err;
  }

  const files = [spec, ...fixed]
    .map((s) => readSetting(s, env, flags).setting.file)
    .filter((f) => f !== undefined);
  const configDir = readSetting(settings.configDir, env, flags).setting.value;
  if (configDir) files.push(join(configDir, spec.env)); // a key that may appear later
  if (files.length > 0) {
    watch = watchFiles(
      files,
      (trigger) => {
        reload(trigger).catch(onInternalError);
      },
      {
        debounceMs: options.debounceMs ?? 250,
        pollMs: options.pollMs ?? 10_000,
        onError: (dir, e) =>
          logEvent(logger, "warn", "rules watch failed", {
            setting: spec.env,
            error: `${dir}: ${e.message}`,
          }),
      },
    );
  }
  metrics.setReady(readiness().ready);
  logEvent(logger, "info", "router ready", { mode: definition.mode, url: admin?.url });

  const shutdown = (signal: string): Promise<number> => {
    if (shutdownPromise) {
      logEvent(logger, "warn", "shutdown already in progress", { signal });
      return shutdownPromise;
    }
    draining = true;
    metrics.setReady(false);
    metrics.setDraining(true);
    watch?.close();
    logEvent(logger, "info", "shutdown started", { signal, drain_seconds: ds.drainMs / 1000 });
    shutdownPromise = (async () => {
      let code = 0;
      const svc = service;
      if (svc) {
        let timer: NodeJS.Timeout | undefined;
        const overran = new Promise<"overran">((resolve) => {
          timer = setTimeout(() => resolve("overran"), ds.drainMs + stopGraceMs);
        });
        try {
          const r = await Promise.race([
            svc.stop(ds.drainMs).then(() => "stopped" as const),
            overran,
          ]);
          if (r === "overran") {
            onInternalError(
              new Error(`the service did not stop within the drain time plus ${stopGraceMs} ms`),
            );
            code = 1;
          }
        } catch (err) {
          onInternalError(err as Error);
          code = 1;
        } finally {
          clearTimeout(timer);
        }
      }
      logEvent(logger, "info", "shutdown complete", { signal });
      await cleanup();
      return code;
    })();
    return shutdownPromise;
  };

  return {
    get adminUrl() {
      return admin?.url;
    },
    logger,
    isReady: () => readiness().ready,
    reload,
    shutdown,
  };
}

/**
 * Runs a mode until SIGTERM or SIGINT; SIGHUP reloads. Resolves the exit code: 0 after a
 * graceful shutdown. Throws ConfigError when the configuration cannot start. A stop signal
 * that arrives while starting is kept and acted on as soon as the start is over.
 */
export async function runDaemon<C>(
  definition: ModeDefinition<C>,
  options: DaemonOptions,
): Promise<number> {
  let daemon: Daemon | undefined;
  let pendingStop: NodeJS.Signals | undefined;
  let resolveExit: (code: number) => void = () => undefined;
  const exit = new Promise<number>((resolve) => (resolveExit = resolve));

  const onHup = () => {
    if (!daemon) return; // still starting: the start reads the files anyway
    const d = daemon;
    logEvent(d.logger, "info", "reload requested", { signal: "SIGHUP" });
    d.reload("signal", true).catch((err: unknown) =>
      logEvent(d.logger, "error", "unexpected error", { error: String(err) }),
    );
  };
  const onStop = (signal: NodeJS.Signals) => {
    if (!daemon) {
      pendingStop ??= signal;
      return;
    }
    daemon.shutdown(signal).then(resolveExit, () => resolveExit(1));
  };
  // Logged before Node's default handling ends the process: the reason is in the JSON log.
  const onFatal = (err: Error, origin: string) => {
    if (daemon)
      logEvent(daemon.logger, "error", "unexpected error", {
        error: `${origin}: ${err.stack ?? err.message}`,
      });
  };
  const off = () => {
    process.off("SIGHUP", onHup);
    process.off("SIGTERM", onStop);
    process.off("SIGINT", onStop);
    process.off("uncaughtExceptionMonitor", onFatal);
  };
  process.on("SIGHUP", onHup);
  process.on("SIGTERM", onStop);
  process.on("SIGINT", onStop);
  process.on("uncaughtExceptionMonitor", onFatal);

  try {
    daemon = await startDaemon(definition, options);
  } catch (err) {
    off();
    throw err;
  }
  if (pendingStop) onStop(pendingStop);
  const code = await exit;
  off();
  return code;
}

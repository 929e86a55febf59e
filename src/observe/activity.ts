// What the status page shows beyond the service's own status: the latest denials with
// their reasons, the connections open right now, the latest answer for each resolved
// name, and the reload history. Fed by the same events as the logs; bounded in memory.
import type {
  ConnectionCloseEvent,
  ConnectionOpenEvent,
  DecisionEvent,
  ReloadEvent,
  ResolveEvent,
} from "./events.ts";
import { channels } from "./events.ts";
import { redact } from "./redact.ts";

export interface DenialEntry {
  readonly at: string;
  readonly mode: string;
  readonly client: string;
  readonly destination: string;
  readonly address: string | undefined;
  readonly reason: string;
  readonly ruleLine: number | undefined;
  /** true: audit mode let it through */
  readonly audit: boolean;
}

export interface OpenConnection {
  readonly mode: string;
  readonly listener: string;
  readonly client: string;
  readonly since: string;
}

export interface NameEntry {
  readonly name: string;
  readonly addresses: readonly string[];
  readonly ok: boolean;
  readonly stale: boolean;
  readonly error: string | undefined;
  readonly at: string;
}

export interface ReloadEntry {
  readonly at: string;
  readonly setting: string;
  readonly result: string;
  readonly trigger: string;
  readonly problems: readonly string[];
}

export interface ActivitySnapshot {
  readonly denials: readonly DenialEntry[];
  readonly openConnections: {
    readonly total: number;
    readonly byListener: Readonly<Record<string, number>>;
    /** the longest-open ones first, at most `maxListed` */
    readonly oldest: readonly OpenConnection[];
  };
  readonly names: readonly NameEntry[];
  readonly reloads: readonly ReloadEntry[];
}

export interface Activity {
  snapshot(): ActivitySnapshot;
  /** changes whenever what snapshot() returns may have changed */
  readonly version: number;
  close(): void;
}

export interface ActivityLimits {
  readonly denials: number;
  readonly reloads: number;
  readonly names: number;
  readonly listed: number;
}

const defaults: ActivityLimits = { denials: 50, reloads: 20, names: 200, listed: 20 };

function pushBounded<T>(list: T[], item: T, max: number): void {
  list.unshift(item);
  if (list.length > max) list.length = max;
}

export function trackActivity(limits: ActivityLimits = defaults): Activity {
  const denials: DenialEntry[] = [];
  const reloads: ReloadEntry[] = [];
  const open = new Map<string, { e: ConnectionOpenEvent; since: number }>();
  const names = new Map<string, NameEntry>();
  const key = (e: { mode: string; listener: string; client: string }) =>
    `${e.mode}\u0000${e.listener}\u0000${e.client}`;
  let version = 0;

  const onDecision = (m: unknown) => {
    const e = m as DecisionEvent;
    if (e.action !== "deny" && !e.audit) return;
    version++;
    pushBounded(
      denials,
      {
        at: new Date().toISOString(),
        mode: e.mode,
        client: e.client,
        destination: redact(e.destination),
        address: e.address,
        reason: e.reason,
        ruleLine: e.ruleLine,
        audit: e.audit,
      },
      limits.denials,
    );
  };
  const onOpen = (m: unknown) => {
    const e = m as ConnectionOpenEvent;
    version++;
    open.set(key(e), { e, since: Date.now() });
  };
  const onClose = (m: unknown) => {
    if (open.delete(key(m as ConnectionCloseEvent))) version++;
  };
  const onResolve = (m: unknown) => {
    const e = m as ResolveEvent;
    version++;
    const prev = names.get(e.name);
    names.delete(e.name); // re-insert: most recent last
    names.set(e.name, {
      name: e.name,
      addresses: e.ok || e.stale ? e.addresses : (prev?.addresses ?? []),
      ok: e.ok,
      stale: e.stale,
      error: e.error === undefined ? undefined : redact(e.error),
      at: new Date().toISOString(),
    });
    if (names.size > limits.names) {
      const first = names.keys().next();
      if (!first.done) names.delete(first.value);
    }
  };
  const onReload = (m: unknown) => {
    const e = m as ReloadEvent;
    if (e.result === "unchanged") return;
    version++;
    pushBounded(
      reloads,
      {
        at: new Date().toISOString(),
        setting: e.setting,
        result: e.result,
        trigger: e.trigger,
        problems: e.problems.map(redact),
      },
      limits.reloads,
    );
  };
  const subs = [
    [channels.decision, onDecision],
    [channels.connectionOpen, onOpen],
    [channels.connectionClose, onClose],
    [channels.resolve, onResolve],
    [channels.reload, onReload],
  ] as const;
  for (const [ch, fn] of subs) ch.subscribe(fn);

  return {
    snapshot() {
      const byListener: Record<string, number> = {};
      for (const { e } of open.values()) {
        const k = `${e.mode}:${e.listener}`;
        byListener[k] = (byListener[k] ?? 0) + 1;
      }
      // The map keeps the order connections opened in: the oldest come first.
      const oldest: OpenConnection[] = [];
      for (const { e, since } of open.values()) {
        if (oldest.length >= limits.listed) break;
        oldest.push({
          mode: e.mode,
          listener: e.listener,
          client: e.client,
          since: new Date(since).toISOString(),
        });
      }
      return {
        denials: [...denials],
        openConnections: { total: open.size, byListener, oldest },
        names: [...names.values()].sort((a, b) => a.name.localeCompare(b.name)),
        reloads: [...reloads],
      };
    },
    get version() {
      return version;
    },
    close() {
      for (const [ch, fn] of subs) ch.unsubscribe(fn);
      open.clear();
    },
  };
}

/**
 * Several threads' activity as one (a data path on threads of its own tracks its activity
 * there): the latest entries of all, within the same bounds as one tracker's.
 */
export function mergeActivity(
  snapshots: readonly ActivitySnapshot[],
  limits: ActivityLimits = defaults,
): ActivitySnapshot {
  const [first] = snapshots;
  if (snapshots.length === 1 && first !== undefined) return first;
  const newestFirst = (a: { at: string }, b: { at: string }) =>
    a.at < b.at ? 1 : a.at > b.at ? -1 : 0;
  const byListener: Record<string, number> = {};
  const names = new Map<string, NameEntry>();
  let total = 0;
  for (const s of snapshots) {
    total += s.openConnections.total;
    for (const [k, n] of Object.entries(s.openConnections.byListener))
      byListener[k] = (byListener[k] ?? 0) + n;
    for (const n of s.names) {
      const seen = names.get(n.name);
      if (seen === undefined || seen.at < n.at) names.set(n.name, n);
    }
  }
  return {
    denials: snapshots
      .flatMap((s) => s.denials)
      .sort(newestFirst)
      .slice(0, limits.denials),
    openConnections: {
      total,
      byListener,
      oldest: snapshots
        .flatMap((s) => s.openConnections.oldest)
        .sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : 0))
        .slice(0, limits.listed),
    },
    names: [...names.values()]
      .sort(newestFirst)
      .slice(0, limits.names)
      .sort((a, b) => a.name.localeCompare(b.name)),
    reloads: snapshots
      .flatMap((s) => s.reloads)
      .sort(newestFirst)
      .slice(0, limits.reloads),
  };
}

// The status page at `/` on the admin port: what the router does right now, readable on a
// phone, refreshing itself, with no external assets. The server renders all of it (so it
// works without JavaScript and there is one renderer); the script only re-fetches the
// refreshing part every few seconds. Every value is escaped here.
import type { ActivitySnapshot } from "./activity.ts";
import { redact } from "./redact.ts";
import type { ServiceStatus } from "./service.ts";

/** What `/status.json` serves and the page shows. */
export interface StatusSnapshot {
  readonly mode: string;
  readonly version: string;
  readonly source: string | undefined;
  readonly ready: boolean;
  readonly notReady: readonly string[];
  readonly draining: boolean;
  /** settings changed on disk that only a restart applies */
  readonly restartNeeded: readonly string[];
  readonly startedAt: string;
  readonly config: {
    readonly setting: string;
    readonly origin: string;
    readonly appliedAt: string | undefined;
    readonly lastReloadOk: boolean;
  };
  readonly service: ServiceStatus | undefined;
  readonly activity: ActivitySnapshot;
}

const refreshSeconds = 2;

export function escapeHtml(value: unknown): string {
  return String(value)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

const e = escapeHtml;

function time(iso: string | undefined): string {
  if (!iso) return "—";
  return `<time datetime="${e(iso)}">${e(iso.slice(11, 19))}</time>`;
}

function ago(iso: string | undefined, now: number): string {
  if (!iso) return "";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** A table that turns into labelled cards on narrow screens. */
function table(
  id: string,
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  empty: string,
): string {
  if (rows.length === 0) return `<p class="empty" id="${id}-empty">${e(empty)}</p>`;
  const head = headers.map((h) => `<th scope="col">${e(h)}</th>`).join("");
  const body = rows
    .map(
      (cells) =>
        `<tr>${cells.map((c, i) => `<td data-label="${e(headers[i] ?? "")}"><div>${c}</div></td>`).join("")}</tr>`,
    )
    .join("");
  return `<div class="table"><table id="${id}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

function pill(ok: boolean, yes: string, no: string): string {
  return `<span class="pill ${ok ? "ok" : "bad"}">${e(ok ? yes : no)}</span>`;
}

/** The part of the page that refreshes (inside `<main>`). */
export function renderFragment(s: StatusSnapshot, now = Date.now()): string {
  const svc = s.service;
  const a = s.activity;
  const out: string[] = [];

  if (!s.ready) {
    out.push(
      `<div class="banner bad" role="alert" id="not-ready"><strong>Not ready</strong>: ${e(s.notReady.join("; "))}</div>`,
    );
  }
  const lastReload = a.reloads[0];
  if (lastReload && lastReload.result === "rejected") {
    out.push(
      `<div class="banner bad" role="alert" id="reload-rejected"><strong>Last reload rejected</strong> (${time(lastReload.at)}); the previous rules keep serving.<ul>${lastReload.problems.map((p) => `<li>${e(p)}</li>`).join("")}</ul></div>`,
    );
  }
  if (s.restartNeeded.length > 0) {
    out.push(
      `<div class="banner warn" id="restart-needed"><strong>Restart needed</strong><ul>${s.restartNeeded.map((p) => `<li>${e(p)}</li>`).join("")}</ul></div>`,
    );
  }

  const active = svc?.activeConnections ?? a.openConnections.total;
  out.push(`<section class="cards" aria-label="summary">
<div class="card"><h2>Mode</h2><p class="big" id="mode">${e(s.mode)}</p></div>
<div class="card"><h2>Source IP</h2><p class="big" id="source">${e(s.source ?? "not set")}</p></div>
<div class="card"><h2>Active connections</h2><p class="big" id="active">${e(active)}</p></div>
<div class="card"><h2>Rules</h2><p class="big" id="rule-count">${e(svc?.rules.length ?? 0)}</p></div>
</section>
<p class="small origin" id="config">Rules from <code>${e(s.config.origin)}</code>, applied ${time(s.config.appliedAt)}.</p>`);

  const rules = (svc?.rules ?? []).map((r) => [
    e(r.line),
    `<code>${e(redact(r.text))}</code>`,
    `<span class="num">${e(r.hits)}</span>`,
    r.addresses === undefined
      ? ""
      : r.addresses.length === 0
        ? `<span class="bad-text">no address</span>`
        : r.addresses
            .map(
              (x) =>
                `<span class="addr ${x.up ? "up" : "down"}">${e(x.address)}${x.up ? "" : " (down)"}</span>`,
            )
            .join(" "),
  ]);
  out.push(
    `<section><h2>Rules</h2>${table("rules", ["Line", "Rule", "Hits", "Addresses"], rules, "No rules.")}</section>`,
  );

  const listeners = (svc?.listeners ?? []).map((l) => [
    `<code>${e(l.address)}:${e(l.port)}</code>`,
    pill(l.up, "up", "down"),
    e(
      Object.entries(a.openConnections.byListener)
        .filter(([k]) => k.endsWith(`:${l.port}`))
        .reduce((n, [, v]) => n + v, 0),
    ),
  ]);
  out.push(
    `<section><h2>Listeners</h2>${table("listeners", ["Listener", "State", "Open"], listeners, "No listeners.")}</section>`,
  );

  const denials = a.denials.map((d) => [
    time(d.at),
    `<code>${e(d.client)}</code>`,
    `<code>${e(d.destination)}</code>${d.address && !d.destination.startsWith(d.address) ? ` <span class="small">${e(d.address)}</span>` : ""}`,
    `${e(d.reason)}${d.audit ? ' <span class="pill warn">audit: allowed</span>' : ""}`,
    e(d.ruleLine ?? "—"),
  ]);
  out.push(
    `<section><h2>Latest denials</h2>${table("denials", ["Time", "Client", "Destination", "Reason", "Rule"], denials, "Nothing denied since start.")}</section>`,
  );

  const names = a.names.map((n) => [
    `<code>${e(n.name)}</code>`,
    n.addresses.map((x) => `<span class="addr">${e(x)}</span>`).join(" ") || "—",
    n.ok
      ? pill(true, "ok", "")
      : n.stale
        ? '<span class="pill warn">stale</span>'
        : pill(false, "", "failed"),
    `${time(n.at)}${n.error ? ` <span class="small">${e(n.error)}</span>` : ""}`,
  ]);
  out.push(
    `<section><h2>Named destinations</h2>${table("names", ["Name", "Addresses", "State", "Resolved"], names, "No names resolved yet.")}</section>`,
  );

  const open = a.openConnections.oldest.map((c) => [
    `<code>${e(c.client)}</code>`,
    e(`${c.mode} ${c.listener}`),
    e(ago(c.since, now)),
  ]);
  out.push(
    `<section><h2>Open connections (oldest first)</h2>${table("open", ["Client", "Listener", "Open for"], open, "No open connections.")}</section>`,
  );

  const reloads = a.reloads.map((r) => [
    time(r.at),
    e(r.setting),
    r.result === "applied"
      ? pill(true, "applied", "")
      : `<span class="pill ${r.result === "rejected" ? "bad" : "warn"}">${e(r.result)}</span>`,
    e(r.trigger),
    r.problems.map((p) => e(p)).join("<br>"),
  ]);
  out.push(
    `<section><h2>Reloads</h2>${table("reloads", ["Time", "Setting", "Result", "Trigger", "Problems"], reloads, "No reloads yet.")}</section>`,
  );

  out.push(
    `<p class="small" id="footer">egress-router ${e(s.version)} · up ${e(ago(s.startedAt, now))} · rendered ${time(new Date(now).toISOString())} · <a href="/status.json">status.json</a> · <a href="/metrics">metrics</a></p>`,
  );
  return out.join("\n");
}

export function renderPage(s: StatusSnapshot): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="refresh-seconds" content="${refreshSeconds}">
<title>egress-router · ${e(s.mode)}</title>
<link rel="stylesheet" href="/status.css">
<link rel="icon" href="data:,">
<script src="/status.js" defer></script>
</head>
<body>
<header>
<h1>egress-router</h1>
<span id="state">${pill(s.ready, "ready", s.draining ? "draining" : "not ready")}</span>
<span id="live" class="small" aria-live="polite">live</span>
</header>
<main id="status">
${renderFragment(s)}
</main>
</body>
</html>
`;
}

const script = `"use strict";
(function () {
  var main = document.getElementById("status");
  var live = document.getElementById("live");
  var state = document.getElementById("state");
  var meta = document.querySelector('meta[name="refresh-seconds"]');
  var every = Math.max(1, Number(meta && meta.content) || 2) * 1000;
  var last = Date.now();
  var failing = false;
  function tick() {
    if (document.visibilityState === "hidden") return schedule();
    fetch("/status/fragment", { cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        var ready = r.headers.get("x-egress-ready");
        return r.text().then(function (html) {
          main.innerHTML = html;
          if (ready !== null) {
            state.innerHTML = ready === "1"
              ? '<span class="pill ok">ready</span>'
              : '<span class="pill bad">' + (ready === "draining" ? "draining" : "not ready") + "</span>";
          }
          last = Date.now();
          failing = false;
          live.className = "small";
          live.textContent = "live · updated just now";
          main.setAttribute("data-updated", String(last));
        });
      })
      .catch(function () {
        failing = true;
        live.className = "small bad-text";
        live.textContent = "router unreachable · retrying";
      })
      .then(schedule);
  }
  function schedule() { setTimeout(tick, every); }
  setInterval(function () {
    if (failing) return;
    var s = Math.round((Date.now() - last) / 1000);
    live.textContent = s < 2 ? "live · updated just now" : "live · updated " + s + "s ago";
  }, 1000);
  schedule();
})();
`;

const style = `:root{color-scheme:light dark;--bg:#f6f7f9;--fg:#1b1f24;--muted:#5b6470;--card:#fff;--line:#d9dde3;--ok:#137333;--okbg:#e6f4ea;--bad:#b3261e;--badbg:#fce8e6;--warn:#8a5a00;--warnbg:#fef3d6;--code:#eef1f5}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--fg:#e6e8eb;--muted:#9aa3ad;--card:#1a1e24;--line:#2c323a;--ok:#7dd99b;--okbg:#133321;--bad:#ff8a80;--badbg:#3b1714;--warn:#ffd17a;--warnbg:#3a2c0c;--code:#232931}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;padding:.75rem 1rem;background:var(--card);border-bottom:1px solid var(--line);position:sticky;top:0}
h1{font-size:1.15rem;margin:0}
h2{font-size:1rem;margin:1.25rem 0 .5rem}
main{padding:0 1rem 1rem;max-width:72rem;margin:0 auto}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:.75rem;margin-top:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.6rem .8rem}
.card h2{margin:0;font-size:.8rem;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.big{font-size:1.35rem;font-weight:650;margin:.15rem 0;overflow-wrap:anywhere}
@media (max-width:25rem){.big{font-size:1.1rem}}
.small{font-size:.82rem;color:var(--muted);overflow-wrap:anywhere}
.origin{margin:.6rem 0 0}
.empty{color:var(--muted);margin:.25rem 0}
.table{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:.5rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:break-word}
time,.pill{white-space:nowrap}
tbody tr:last-child td{border-bottom:0}
th{font-size:.8rem;color:var(--muted);font-weight:600}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--code);padding:.05rem .3rem;border-radius:.25rem;overflow-wrap:anywhere}
.num{font-variant-numeric:tabular-nums;font-weight:600}
.pill{display:inline-block;padding:.05rem .55rem;border-radius:1rem;font-size:.8rem;font-weight:600}
.pill.ok{background:var(--okbg);color:var(--ok)}.pill.bad{background:var(--badbg);color:var(--bad)}.pill.warn{background:var(--warnbg);color:var(--warn)}
.bad-text{color:var(--bad)}
.addr{display:inline-block;margin:0 .35rem .15rem 0;font:.85em ui-monospace,monospace}
.addr.down{color:var(--bad);text-decoration:line-through}
.banner{margin-top:1rem;padding:.6rem .8rem;border-radius:.5rem;border:1px solid var(--line)}
.banner.bad{background:var(--badbg);color:var(--bad)}.banner.warn{background:var(--warnbg);color:var(--warn)}
.banner ul{margin:.35rem 0 0;padding-left:1.2rem}
a{color:inherit}
@media (max-width:40rem){
  .table{background:none;border:0}
  table,thead,tbody,tr,td{display:block;width:100%}
  thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
  tr{background:var(--card);border:1px solid var(--line);border-radius:.5rem;margin-bottom:.5rem;padding:.3rem 0}
  td{border:0;padding:.2rem .7rem;display:grid;grid-template-columns:6.5rem 1fr;gap:.5rem}
  td::before{content:attr(data-label);color:var(--muted);font-size:.8rem;font-weight:600}
  td:has(> div:empty){display:none}
}
`;

export const renderStatus = {
  page: renderPage,
  fragment: renderFragment,
  script,
  style,
} as const;

// docs/metrics.md and docs/operations.md against the code, both ways: every metric (with
// its type and labels), log field, log message and admin path in the code is documented,
// and the docs name nothing the code lacks.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { settings } from "../src/config/catalogue.ts";
import { haLogFields, haLogMessages } from "../src/ha/ha-log.ts";
import { adminPaths } from "../src/observe/admin-server.ts";
import { logFields, logMessages } from "../src/observe/log.ts";
import { createMetrics } from "../src/observe/metrics.ts";
import { startEchoDaemon } from "./helpers/daemon.ts";

const metricsDoc = readFileSync(new URL("../docs/metrics.md", import.meta.url), "utf8");
const operationsDoc = readFileSync(new URL("../docs/operations.md", import.meta.url), "utf8");

/** The rows of the first table after a `## heading`, as arrays of cells. */
function table(doc: string, heading: string): string[][] {
  const start = doc.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `heading "${heading}" is missing`);
  const rows: string[][] = [];
  let inTable = false;
  for (const line of doc.slice(start + heading.length + 2).split("\n")) {
    if (line.startsWith("|")) {
      inTable = true;
      const cells = line
        .split("|")
        .slice(1, -1)
        .map((c) => c.trim());
      if (!/^-+$/.test(cells[0] ?? "")) rows.push(cells);
    } else if (inTable) break;
  }
  return rows.slice(1); // without the header row
}

/** prom-client keeps label names on the metric but not in its public type */
function labelNames(metric: object): string[] {
  return "labelNames" in metric && Array.isArray(metric.labelNames)
    ? metric.labelNames.map(String)
    : [];
}

const code = (cell: string | undefined) =>
  [...(cell ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1]);

describe("docs/metrics.md and docs/operations.md match the code", () => {
  it("every metric, with its type and labels, and nothing else", () => {
    const m = createMetrics({ version: "0", mode: "docs" });
    try {
      const inCode = m.registry
        .getMetricsAsArray()
        .filter((x) => x.name.startsWith("egress_router_"))
        .map((x) => ({ name: x.name, type: String(x.type), labels: labelNames(x).sort() }))
        .sort((a, b) => a.name.localeCompare(b.name));
      const inDocs = table(metricsDoc, "## Metrics")
        .map(([name, type, labels]) => ({
          name: code(name)[0] ?? "",
          type: type ?? "",
          labels: code(labels).sort(),
        }))
        .sort((a, b) => a.name.localeCompare(b.name));
      assert.deepEqual(inDocs, inCode);
    } finally {
      m.close();
    }
  });

  it("every egress_router_ name in the docs is a metric", () => {
    const m = createMetrics({ version: "0", mode: "docs" });
    const names = new Set(m.registry.getMetricsAsArray().map((x) => x.name));
    m.close();
    for (const doc of [metricsDoc, operationsDoc]) {
      for (const [token] of doc.matchAll(/egress_router_\w+/g)) {
        const base = token.replace(/_(bucket|sum|count)$/, "");
        assert.ok(names.has(base), `${token} is in the docs but not in metrics.ts`);
      }
    }
  });

  it("every log field, and nothing else", () => {
    const inDocs = table(metricsDoc, "## Log fields").map(([f]) => code(f)[0]);
    const inCode = new Set([...Object.keys(logFields), ...Object.keys(haLogFields)]);
    assert.deepEqual(inDocs.sort(), [...inCode].sort());
    for (const base of ["`level`", "`time`", "`msg`"]) assert.ok(metricsDoc.includes(base));
  });

  it("every log message, and nothing else", () => {
    const inDocs = table(metricsDoc, "## Log messages").map(([msg]) => code(msg)[0]);
    assert.deepEqual(
      inDocs.sort(),
      [...Object.keys(logMessages), ...Object.keys(haLogMessages)].sort(),
    );
  });

  it("every admin path, and each one answers", async (t) => {
    const inDocs = table(operationsDoc, "## Admin server").map(([p]) => code(p)[0]);
    assert.deepEqual([...inDocs].sort(), [...adminPaths].sort());
    const d = await startEchoDaemon(t, "listen 0\nreply v1\n");
    for (const path of adminPaths) {
      const r = await d.get(path);
      assert.equal(r.status, 200, `${path} answered ${r.status}`);
    }
  });

  it("every EGRESS_ setting the docs name exists", () => {
    const known = new Set<string>();
    for (const s of Object.values(settings)) {
      known.add(s.env);
      if (s.fromFile) known.add(`${s.env}_FILE`);
    }
    for (const doc of [metricsDoc, operationsDoc]) {
      for (const [name] of doc.matchAll(/EGRESS_[A-Z_]+/g)) {
        assert.ok(known.has(name), `${name} is in the docs but not in the catalogue`);
      }
    }
  });
});

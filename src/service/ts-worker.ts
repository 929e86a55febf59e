// Worker threads that do not strip TypeScript themselves. Node strips the types of each .ts
// module it loads with a WebAssembly compiler that every thread instantiates at its first .ts
// module: about 13 MiB of memory per thread, for code the main thread has already compiled.
// Here the main thread (which has the stripper loaded anyway: the program is .ts) strips the
// sources a worker will load, once per entry module, and starts the worker from a short
// JavaScript bootstrap whose module hook hands them to Node's loader as JavaScript. A module
// the scan below did not find (a computed dynamic import) is loaded as usual, stripper and
// all: more memory, never a different program.
import { readFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { Worker } from "node:worker_threads";

/** The key under which the bootstrap finds its part of `workerData` (removed before the entry runs). */
export const TS_WORKER_KEY = "__egressRouterTsWorker";

/** Relative .ts specifiers of static imports and re-exports, and of literal dynamic imports. */
const specifiers = [
  /(?:^|[\s;}])(?:import|export)\s+(?:[\w*{}\s,$]*?\s+from\s+)?["'](\.{1,2}\/[^"'\n]+\.ts)["']/g,
  /\bimport\(\s*["'](\.{1,2}\/[^"'\n]+\.ts)["']\s*\)/g,
];

/** The stripped sources of `entry` and every module it imports, by file URL. */
export function strippedGraph(entry: URL): Record<string, string> {
  const sources: Record<string, string> = {};
  const todo = [entry.href];
  for (let url = todo.pop(); url !== undefined; url = todo.pop()) {
    if (url in sources) continue;
    const js = stripTypeScriptTypes(readFileSync(new URL(url), "utf8"));
    sources[url] = js;
    for (const pattern of specifiers) {
      for (const m of js.matchAll(pattern)) {
        const next = new URL(m[1] as string, url).href;
        if (!(next in sources)) todo.push(next);
      }
    }
  }
  return sources;
}

// Runs as the worker's first script (CommonJS, no types). The hook answers for the modules it
// was given; everything else (node:, packages, a module it does not know) goes the usual way.
// `fallbacks` counts .ts modules it did not know (the tests expect none).
const bootstrap = `
const { registerHooks } = require("node:module");
const { workerData } = require("node:worker_threads");
const own = workerData[${JSON.stringify(TS_WORKER_KEY)}];
delete workerData[${JSON.stringify(TS_WORKER_KEY)}];
let sources = own.sources;
const counts = (globalThis[Symbol.for("egress-router.ts-worker")] = { fallbacks: 0 });
registerHooks({
  load(url, context, nextLoad) {
    const source = sources[url];
    if (source !== undefined) return { format: "module", source, shortCircuit: true };
    if (url.startsWith("file:") && url.endsWith(".ts")) counts.fallbacks++;
    return nextLoad(url, context);
  },
});
import(own.entry).then(
  () => { sources = {}; },
  (err) => { setImmediate(() => { throw err; }); },
);
`;

const graphs = new Map<string, Record<string, string>>();

/**
 * `new Worker(entry, { workerData })` for a .ts entry module, without a stripper in the new
 * thread. `workerData` must be an object; the worker sees it as given.
 */
export function startTsWorker(entry: URL, workerData: object): Worker {
  let sources = graphs.get(entry.href);
  if (sources === undefined) {
    sources = strippedGraph(entry);
    graphs.set(entry.href, sources);
  }
  return new Worker(bootstrap, {
    eval: true,
    workerData: { ...workerData, [TS_WORKER_KEY]: { entry: entry.href, sources } },
  });
}

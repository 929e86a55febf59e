import assert from "node:assert/strict";
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { describe, it } from "node:test";
import { TS_WORKER_KEY, startTsWorker, strippedGraph } from "./ts-worker.ts";

const entry = new URL("../../test/fixtures/ts-worker/entry.ts", import.meta.url);

interface Report {
  data: Record<string, unknown>;
  result: string;
  fallbacks: number | undefined;
  stripperLoaded: boolean;
}

async function run(w: Worker): Promise<Report> {
  const [report] = (await once(w, "message")) as [Report];
  await w.terminate();
  return report;
}

describe("worker threads without a TypeScript stripper of their own", () => {
  it("finds every module the entry imports, and none it only imports types from", () => {
    const names = Object.keys(strippedGraph(entry)).map((u) => u.slice(u.indexOf("ts-worker/")));
    assert.deepEqual(names.sort(), [
      "ts-worker/entry.ts",
      "ts-worker/late.ts",
      "ts-worker/sub/index.ts",
      "ts-worker/sub/label.ts",
      "ts-worker/twice.ts",
    ]);
  });

  it("runs the entry on the stripped sources: the thread never loads the stripper", async () => {
    const r = await run(startTsWorker(entry, { index: 3, name: "x" }));
    assert.equal(r.result, "4 sides, 8 ends and a late one");
    assert.deepEqual(r.data, { index: 3, name: "x" }, "the worker sees its data as given");
    assert.equal(r.fallbacks, 0);
    assert.equal(r.stripperLoaded, false);
    assert.ok(!(TS_WORKER_KEY in r.data));
  });

  it("the same entry as a plain worker loads the stripper (what the above saves)", async () => {
    const r = await run(new Worker(entry, { workerData: {} }));
    assert.equal(r.result, "4 sides, 8 ends and a late one");
    assert.equal(r.stripperLoaded, true);
  });

  it("an entry that throws fails the worker as a plain one would; a missing one fails at once", async () => {
    const w = startTsWorker(
      new URL("../../test/fixtures/ts-worker/throws.ts", import.meta.url),
      {},
    );
    const exited = new Promise<number>((resolve) => w.on("exit", resolve));
    const [err] = (await once(w, "error")) as [Error];
    assert.match(err.message, /boom at load/);
    assert.equal(await exited, 1);
    const missing = new URL("../../test/fixtures/ts-worker/missing.ts", import.meta.url);
    assert.throws(() => startTsWorker(missing, {}), /ENOENT/);
  });
});

// The rules watcher on a real directory (inotify through fs.watch).
import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { watchFiles, type FileChangeTrigger } from "./watch-files.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("watchFiles", () => {
  it("a neighbour file written all the time does not hold a change of the rules back", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "egress-router-watch-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const rules = join(dir, "rules");
    writeFileSync(rules, "a\n");
    const calls: { trigger: FileChangeTrigger; at: number }[] = [];
    const w = watchFiles([rules], (trigger) => calls.push({ trigger, at: Date.now() }), {
      debounceMs: 100,
      pollMs: 0, // no safety net: only the watch can notice
      onError: (d, e) => assert.fail(`${d}: ${e.message}`),
    });
    t.after(() => w.close());
    // A log file in the same directory, written every 20 ms for 4 s: events never pause
    // for the debounce's 100 ms.
    let writing = true;
    const neighbour = (async () => {
      for (let i = 0; writing; i++) {
        writeFileSync(join(dir, "log"), `line ${i}\n`, { flag: "a" });
        await sleep(20);
      }
    })();
    await sleep(300);
    const before = calls.length;
    const changedAt = Date.now();
    writeFileSync(`${rules}.new`, "b\n");
    renameSync(`${rules}.new`, rules);
    await sleep(3000);
    writing = false;
    await neighbour;
    const after = calls.filter((c) => c.at >= changedAt);
    assert.ok(
      after.length > 0,
      `no onChange in 3 s while the neighbour was written (${before} before the change)`,
    );
    // at most the longest wait (4 x 100 ms) and the debounce after it, with room for a busy machine
    assert.ok((after[0]?.at ?? 0) - changedAt < 2500, `${(after[0]?.at ?? 0) - changedAt} ms`);
    assert.ok(after.every((c) => c.trigger === "watch"));
  });

  it("a burst of events runs onChange once, after the quiet time", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "egress-router-watch-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const rules = join(dir, "rules");
    writeFileSync(rules, "a\n");
    let calls = 0;
    const w = watchFiles([rules], () => calls++, {
      debounceMs: 200,
      maxWaitMs: 5000,
      pollMs: 0,
      onError: (d, e) => assert.fail(`${d}: ${e.message}`),
    });
    t.after(() => w.close());
    for (let i = 0; i < 5; i++) {
      writeFileSync(`${rules}.new`, `${i}\n`);
      renameSync(`${rules}.new`, rules);
      await sleep(20);
    }
    for (let waited = 0; calls === 0 && waited < 10_000; waited += 50) await sleep(50);
    await sleep(600);
    assert.equal(calls, 1);
  });
});

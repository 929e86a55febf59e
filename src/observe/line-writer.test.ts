// The batched stdout writer against real pipes (a child process writing to a pipe we read)
// and against a descriptor that would block, with a replaced write call.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createLineWriter, PIPE_BUF } from "./line-writer.ts";

const writerUrl = new URL("./line-writer.ts", import.meta.url).href;

/** runs a script with stdout on a pipe; its lines */
async function runChild(script: string): Promise<string[]> {
  const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
  const chunks: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => chunks.push(c));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  assert.equal(code, 0);
  return Buffer.concat(chunks).toString().split("\n").filter(Boolean);
}

describe("line writer", () => {
  it("batches the lines of one event-loop turn into writes of at most PIPE_BUF at line ends", async () => {
    const writes: Buffer[] = [];
    const w = createLineWriter({
      fd: 99,
      writeFn: (_fd, d) => {
        writes.push(Buffer.from(d));
        return d.length;
      },
    });
    const lines = Array.from(
      { length: 200 },
      (_, i) => `{"n":${i},"pad":"${"é".repeat(i % 37)}"}\n`,
    );
    for (const l of lines) w.write(l);
    assert.equal(writes.length, 0, "nothing is written before the turn ends");
    await new Promise((r) => setImmediate(r));
    assert.ok(writes.length > 1 && writes.length < 200, `${writes.length} writes`);
    for (const b of writes) {
      assert.ok(b.length <= PIPE_BUF, `a write of ${b.length} bytes`);
      assert.equal(b.at(-1), 0x0a, "every write ends at a line end");
    }
    assert.equal(Buffer.concat(writes).toString(), lines.join(""));
  });

  it("writes a line longer than PIPE_BUF alone, and whole", async () => {
    const writes: Buffer[] = [];
    const w = createLineWriter({
      fd: 99,
      writeFn: (_fd, d) => {
        const n = Math.min(d.length, 3000); // a descriptor that takes part of a long write
        writes.push(Buffer.from(d.subarray(0, n)));
        return n;
      },
    });
    const long = "x".repeat(10_000) + "\n";
    w.write("a\n");
    w.write(long);
    w.write("b\n");
    await new Promise((r) => setImmediate(r));
    assert.equal(Buffer.concat(writes).toString(), "a\n" + long + "b\n");
  });

  it("keeps lines while the descriptor would block, drops past the bound and says so", async () => {
    let blocked = true;
    const out: string[] = [];
    const dropped: number[] = [];
    const w = createLineWriter({
      fd: 99,
      maxPendingBytes: 1000,
      onDropped: (n) => dropped.push(n),
      writeFn: (_fd, d) => {
        if (blocked) throw Object.assign(new Error("EAGAIN"), { code: "EAGAIN" });
        out.push(d.toString());
        return d.length;
      },
    });
    for (let i = 0; i < 100; i++) w.write(`line ${String(i).padStart(3, "0")} ${"-".repeat(80)}\n`);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(out.length, 0);
    assert.ok(w.dropped > 80 && w.dropped < 100, `${w.dropped} dropped`);
    blocked = false;
    await new Promise((r) => setTimeout(r, 30));
    const text = out.join("");
    assert.equal(text.split("\n").length - 1, 100 - w.dropped, "every kept line comes out once");
    assert.ok(text.startsWith("line 000 "), "in order, oldest first");
    assert.deepEqual(dropped, [w.dropped]);
  });

  it("stops writing (and does not throw) when nobody reads any more", async () => {
    let calls = 0;
    const w = createLineWriter({
      fd: 99,
      writeFn: () => {
        calls++;
        throw Object.assign(new Error("EPIPE"), { code: "EPIPE" });
      },
    });
    w.write("a\n");
    await new Promise((r) => setImmediate(r));
    w.write("b\n");
    await new Promise((r) => setImmediate(r));
    assert.equal(calls, 1);
  });

  it("four threads' lines through one real pipe never interleave, and none is lost", async () => {
    // A child process starts 4 worker threads; each writes 5000 lines of varied length to
    // its own writer on fd 1 and the process exits at once: the exit flush must write them.
    const dir = mkdtempSync(join(tmpdir(), "line-writer-"));
    try {
      const script = join(dir, "child.mjs");
      const body = `
        import { Worker, isMainThread, workerData } from "node:worker_threads";
        if (isMainThread) {
          for (let t = 0; t < 4; t++) new Worker(new URL(import.meta.url), { workerData: t });
        } else {
          const { createLineWriter } = await import(${JSON.stringify(writerUrl)});
          const w = createLineWriter();
          for (let i = 0; i < 5000; i++)
            w.write(JSON.stringify({ t: workerData, i, pad: "z".repeat((i * 7) % 300) }) + "\\n");
        }
      `;
      writeFileSync(script, body);
      const lines = await runChild(script);
      assert.equal(lines.length, 20_000);
      const next = [0, 0, 0, 0];
      for (const l of lines) {
        const rec = JSON.parse(l) as { t: number; i: number; pad: string };
        assert.equal(rec.i, next[rec.t], "each thread's lines in order, none lost");
        next[rec.t]!++;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("writes what is pending when the process exits in the same turn", async () => {
    const dir = mkdtempSync(join(tmpdir(), "line-writer-"));
    try {
      const script = join(dir, "exit.mjs");
      writeFileSync(
        script,
        `const { createLineWriter } = await import(${JSON.stringify(writerUrl)});
         const w = createLineWriter();
         for (let i = 0; i < 3000; i++) w.write("line " + i + "\\n");
         process.exit(0);`,
      );
      const lines = await runChild(script);
      assert.equal(lines.length, 3000);
      assert.equal(lines.at(-1), "line 2999");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The real runner on real processes (the pinned Node.js plays the command).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createCommandRunner, findProgram, formatArgv, namespaceRunner } from "./command-runner.ts";
import { RecordingRunner } from "./recording-runner.ts";

const node = process.execPath;

describe("createCommandRunner", () => {
  it("passes argv untouched (no shell) and stdin through", async () => {
    const runner = createCommandRunner({ env: {} });
    const r = await runner.run(
      [
        node,
        "-e",
        "process.stdin.pipe(process.stdout); console.error(process.argv[1])",
        "$(echo no) ; *",
      ],
      { input: "rules\n" },
    );
    assert.equal(r.stdout, "rules\n");
    assert.equal(r.stderr, "$(echo no) ; *\n");
    assert.equal(r.code, 0);
  });

  it("a failure names the command, the exit code and stderr", async () => {
    const runner = createCommandRunner({ env: {} });
    const argv = [node, "-e", "console.error('Error: boom\\nsecond'); process.exit(3)"];
    await assert.rejects(runner.run(argv), {
      name: "CommandError",
      code: 3,
      message: `Cannot run "${formatArgv(argv)}": exit code 3, stderr "Error: boom | second"`,
    });
  });

  it("accepts the exit codes it is told are fine", async () => {
    const runner = createCommandRunner({ env: {} });
    const r = await runner.run([node, "-e", "process.exit(1)"], { okCodes: [0, 1] });
    assert.equal(r.code, 1);
  });

  it("kills a command that hangs, and says so", async () => {
    const runner = createCommandRunner({ env: {} });
    await assert.rejects(
      runner.run([node, "-e", "setTimeout(() => {}, 60000)"], { timeoutMs: 200 }),
      {
        message: /: no answer after 200 ms \(killed\)$/,
      },
    );
  });

  it("a program that is nowhere is named, with where it was looked for", async () => {
    const runner = createCommandRunner({ env: { PATH: "/nonexistent" } });
    await assert.rejects(runner.run(["no-such-program-xyz", "a"]), {
      message:
        'Cannot run "no-such-program-xyz a": "no-such-program-xyz" not found in PATH or in /usr/sbin, /sbin, /usr/bin, /bin, /usr/local/sbin, /usr/local/bin',
    });
  });

  it("traces each command, its stdin and its failure", async () => {
    const lines: string[] = [];
    const runner = createCommandRunner({ env: {}, trace: (l) => lines.push(l) });
    await runner.run([node, "-e", "0"], { input: "a\nb\n" });
    await runner.run([node, "-e", "process.exit(2)"]).catch(() => {});
    assert.deepEqual(lines.slice(0, 4), [`+ ${node} -e 0 <<EOF`, "  a", "  b", "  EOF"]);
    assert.match(lines.at(-1) ?? "", /^! Cannot run .*: exit code 2$/);
  });
});

describe("findProgram", () => {
  it("finds ip without PATH, in the sbin/bin directories", () => {
    const found = findProgram("ip", {});
    assert.ok(found === undefined || /^\/(usr\/)?(local\/)?s?bin\/ip$/.test(found), String(found));
    assert.equal(findProgram("sh", {})?.endsWith("/sh"), true);
  });
  it("prefers PATH", () => {
    const dir = node.slice(0, node.lastIndexOf("/"));
    assert.equal(findProgram("node", { PATH: dir }), node);
  });
});

describe("namespaceRunner and formatArgv", () => {
  it("prefixes ip netns exec", async () => {
    const rec = new RecordingRunner();
    await namespaceRunner(rec, "erlab-x-router").run(["nft", "-f", "-"], { input: "x" });
    assert.deepEqual(rec.calls, [
      { argv: ["ip", "netns", "exec", "erlab-x-router", "nft", "-f", "-"], input: "x" },
    ]);
  });
  it("quotes only what needs it", () => {
    assert.equal(
      formatArgv(["ip", "-4", "route", "get", "198.51.100.1"]),
      "ip -4 route get 198.51.100.1",
    );
    assert.equal(formatArgv(["sh", "-c", "a b"]), 'sh -c "a b"');
  });
});

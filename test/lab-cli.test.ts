// `egress-router lab` through the real entry point: up, status, down, the demo, and the
// one-line refusal without root.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { uniqueLabName } from "../src/lab/lab.ts";
import { privileged } from "./helpers/privileged.ts";
import { runCli } from "./helpers/run-cli.ts";

const env = { PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin" };

describe("egress-router lab", privileged(), () => {
  it("up, status, demo on the lab that is up, down", async (t) => {
    const name = uniqueLabName("c");
    t.after(() => runCli(["lab", "down", "--name", name], env));
    const up = await runCli(["lab", "up", "--name", name], env);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`^lab "${name}" is up \\(\\d+\\.\\d s\\)\\n`));
    assert.match(
      up.stdout,
      new RegExp(`^  router +erlab-${name}-router +eth0 192\\.0\\.2\\.2,`, "m"),
    );

    const list = await runCli(["lab", "status"], env);
    assert.match(list.stdout, new RegExp(`^${name} +up$`, "m"));
    const one = await runCli(["lab", "status", "--name", name], env);
    assert.match(one.stdout, /\nfirewall since its last reset: 0 admitted, 0 rejected\n$/);

    const again = await runCli(["lab", "up", "--name", name], env);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      new RegExp(
        `^lab: Cannot build the lab "${name}": it already exists \\(.*\\); run "egress-router lab down --name ${name}" first\\n$`,
      ),
    );

    // the README's demo, on this lab: every redirect scenario, nothing leaked
    const demo = await runCli(["lab", "demo", "--name", name, "--only", "redirect"], env, {
      timeoutMs: 90_000,
    });
    assert.equal(demo.stderr, "");
    assert.equal(demo.code, 0, demo.stdout);
    assert.match(demo.stdout, new RegExp(`^using the lab "${name}" that is up\\n`));
    const rows = demo.stdout.split("\n").filter((l) => /^ {3}[✔✖] /.test(l));
    assert.equal(rows.length, 17);
    assert.ok(
      rows.every((l) => l.startsWith("   ✔ ")),
      rows.join("\n"),
    );
    assert.match(
      demo.stdout,
      /\n✔ 17 scenarios, all as expected\.\n {2}The firewall rejected no source/,
    );
    assert.match(
      demo.stdout,
      new RegExp(`\\nlab "${name}" left up: egress-router lab down --name ${name}\\n$`),
    );

    const down = await runCli(["lab", "down", "--name", name], env);
    assert.deepEqual([down.code, down.stdout], [0, `lab "${name}" removed\n`]);
    const gone = await runCli(["lab", "status", "--name", name], env);
    assert.equal(gone.code, 1);
  });

  it("without root: one line, exit 1", async () => {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      // a real unprivileged user (nobody), not a simulated check
      void import("node:child_process").then(({ spawn }) => {
        const child = spawn("bin/egress-router", ["lab", "up"], { env, uid: 65534, gid: 65534 });
        let stderr = "";
        child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stderr }));
      });
    });
    assert.equal(
      r.stderr,
      "lab: Cannot build the lab: not running as root; the lab creates network namespaces, run it as root (sudo)\n",
    );
    assert.equal(r.code, 1);
  });
});

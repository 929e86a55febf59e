// `egress-router lab` through the real entry point: up, status, down, the demo, and the
// one-line refusal without root.
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { egressLinkUnsupportedReason, uniqueLabName } from "../src/lab/lab.ts";
import { privileged, privilegedSkipReason } from "./helpers/privileged.ts";
import { runCli } from "./helpers/run-cli.ts";

/** The first path on the way to `file` that a user who is neither owner nor group cannot pass. */
function unreadableByOthers(file: string): string | undefined {
  if ((statSync(file).mode & 0o004) === 0) return file;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return dir;
    if (dir === dirname(dir)) return undefined;
  }
}

const env = { PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin" };
// generous: a busy shared host can slow a lab build a lot; this is no speed test
const run = (args: string[], timeoutMs = 120_000) => runCli(args, env, { timeoutMs });

describe("egress-router lab", privileged(), () => {
  it("up, status, demo on the lab that is up, down", async (t) => {
    const name = uniqueLabName("c");
    t.after(() => run(["lab", "down", "--name", name]));
    const up = await run(["lab", "up", "--name", name]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`^lab "${name}" is up \\(\\d+\\.\\d s\\)\\n`));
    assert.match(
      up.stdout,
      new RegExp(`^  router +erlab-${name}-router +eth0 192\\.0\\.2\\.2,`, "m"),
    );

    const list = await run(["lab", "status"]);
    assert.match(list.stdout, new RegExp(`^${name} +up$`, "m"));
    const one = await run(["lab", "status", "--name", name]);
    assert.match(one.stdout, /\nfirewall since its last reset: 0 admitted, 0 rejected\n$/);

    const again = await run(["lab", "up", "--name", name]);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      new RegExp(
        `^lab: Cannot build the lab "${name}": it already exists \\(.*\\); run "egress-router lab down --name ${name}" first\\n$`,
      ),
    );

    // the README's demo, on this lab: every redirect scenario, nothing leaked
    const demo = await run(["lab", "demo", "--name", name, "--only", "redirect"], 300_000);
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

    const down = await run(["lab", "down", "--name", name]);
    assert.deepEqual([down.code, down.stdout], [0, `lab "${name}" removed\n`]);
    const gone = await run(["lab", "status", "--name", name]);
    assert.equal(gone.code, 1);
  });

  it("up --ha: two router pods, status says who holds, the demo kills the holder, down removes it all", async (t) => {
    const name = uniqueLabName("h");
    t.after(() => run(["lab", "down", "--name", name]));
    const up = await run(["lab", "up", "--ha", "--name", name]);
    assert.equal(up.code, 0, `${up.stdout}${up.stderr}`);
    assert.match(up.stdout, /^lab "[^"]+" is up \(\d+\.\d s\), with two router pods\n/);
    assert.match(
      up.stdout,
      new RegExp(`^  router b +erlab-${name}-routerb +eth0 192\\.0\\.2\\.3,`, "m"),
    );
    assert.match(up.stdout, /^ {2}→ router [ab] holds the source address$/m);

    const status = await run(["lab", "status", "--name", name]);
    assert.match(
      status.stdout,
      /^ {2}router [ab] {2}holder, ready \(keepalived MASTER\); has the source address and 192\.0\.2\.4$/m,
    );
    assert.match(status.stdout, /^ {2}router [ab] {2}standby, not ready \(keepalived BACKUP\)$/m);

    // on a lab built with --ha, the demo runs the takeover with the lab's own routers
    const demo = await run(["lab", "demo", "--name", name], 120_000);
    assert.equal(demo.code, 0, demo.stdout);
    assert.match(demo.stdout, /only their scenarios run\n/);
    assert.match(
      demo.stdout,
      /\n {7}router ([ab]) killed; router (?!\1)[ab] holds: the first new connection through it reached the external server \d+ ms after the kill/,
    );
    assert.match(demo.stdout, /\n✔ 2 scenarios, all as expected\./);

    const down = await run(["lab", "down", "--name", name]);
    assert.deepEqual([down.code, down.stdout], [0, `lab "${name}" removed\n`]);
    const left = await runCli(["lab", "status"], env);
    assert.doesNotMatch(left.stdout, new RegExp(`^${name} `, "m"));
    const namespaces = await import("node:child_process").then(({ execFileSync }) =>
      execFileSync("ip", ["netns", "list"], { encoding: "utf8" }),
    );
    assert.doesNotMatch(namespaces, new RegExp(`erlab-${name}-`));
  });

  it("up --ha refuses ipvlan, whose two routers would share one MAC address", async () => {
    const r = await run([
      "lab",
      "up",
      "--ha",
      "--name",
      uniqueLabName("i"),
      "--interface",
      "ipvlan",
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^lab: Cannot build a second router on an ipvlan egress interface: .*; use --interface macvlan or veth\n$/,
    );
  });

  it(
    "lab demo --interface ipvlan: every redirect scenario over an ipvlan egress interface",
    { skip: egressLinkUnsupportedReason("ipvlan") ?? false },
    async () => {
      const name = uniqueLabName("i");
      const demo = await runCli(
        ["lab", "demo", "--name", name, "--interface", "ipvlan", "--only", "redirect"],
        env,
        { timeoutMs: 120_000 },
      );
      await runCli(["lab", "down", "--name", name], env); // in case it failed half-way
      assert.equal(demo.stderr, "");
      assert.equal(demo.code, 0, demo.stdout);
      assert.match(
        demo.stdout,
        /^ {2}router +\S+ +eth0 192\.0\.2\.2, 2001:db8:1::2; ipvlan0 \(ipvlan\)/m,
      );
      assert.match(
        demo.stdout,
        /\n✔ 17 scenarios, all as expected\.\n {2}The firewall rejected no source/,
      );
      assert.match(demo.stdout, new RegExp(`\\nlab "${name}" removed\\n$`));
    },
  );

  it("without root: one line, exit 1", async (t) => {
    const unreadable = unreadableByOthers(
      fileURLToPath(new URL("../src/cli/main.ts", import.meta.url)),
    );
    if (unreadable) {
      t.skip(
        `the unprivileged user cannot read the checkout (${unreadable} is private), so it cannot run the lab command at all`,
      );
      return;
    }
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

describe("egress-router lab --interface", () => {
  it("names the types it knows, and refuses two flags that disagree", async () => {
    const bad = await runCli(["lab", "up", "--interface", "bond"], env);
    assert.deepEqual(
      [bad.code, bad.stderr.split("\n")[0]],
      [
        2,
        'egress-router lab: Cannot use --interface "bond": unknown interface type; use macvlan, ipvlan, veth',
      ],
    );
    const both = await runCli(
      ["lab", "up", "--interface", "ipvlan", "--egress-link", "macvlan"],
      env,
    );
    assert.deepEqual(
      [both.code, both.stderr.split("\n")[0]],
      [
        2,
        'egress-router lab: Cannot use --interface "ipvlan" with --egress-link "macvlan": they name the same thing; give one',
      ],
    );
  });

  const noIpvlan = egressLinkUnsupportedReason("ipvlan");
  it(
    "on a kernel without ipvlan: one line saying so, and nothing left behind",
    { skip: noIpvlan === undefined ? "this kernel has ipvlan" : (privilegedSkipReason() ?? false) },
    async () => {
      const name = uniqueLabName("n");
      const r = await runCli(["lab", "up", "--name", name, "--interface", "ipvlan"], env);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `lab: Cannot build the lab "${name}" with an ipvlan egress interface: ${noIpvlan}; use --interface macvlan, or a kernel with ipvlan\n`,
      );
      const list = await runCli(["lab", "status"], env);
      assert.doesNotMatch(list.stdout, new RegExp(`^${name} `, "m"));
    },
  );
});

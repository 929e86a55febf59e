// The image without a container engine: no daemon runs on the build machines, so this checks
// what can be checked from the files. Every path the Containerfile copies exists and is not
// excluded from the build context; the packages it installs are exactly those of the programs
// the router runs; the entry point is bin/egress-router; and the tree the image would hold
// (the same COPY lines, the same ignore file) runs from a bare environment as the image would.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  globSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, matchesGlob, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { imageUser } from "../src/manifests/privileges.ts";
import {
  aptPackages,
  copyOf,
  execForm,
  parseContainerfile,
  stages,
  type Stage,
} from "./helpers/containerfile.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const containerfile = readFileSync(join(root, "Containerfile"), "utf8");
const instructions = parseContainerfile(containerfile);
const allStages = stages(instructions);
const final = allStages[allStages.length - 1] as Stage;

function ignorePatterns(file: string): string[] {
  return readFileSync(join(root, file), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}
const ignored = ignorePatterns(".containerignore");
const isIgnored = (rel: string): boolean => ignored.some((p) => matchesGlob(rel, p));

function workdir(stage: Stage): string {
  const w = stage.instructions.filter((i) => i.keyword === "WORKDIR").pop();
  assert.ok(w, `stage ${stage.name ?? stage.from} has a WORKDIR`);
  return w.args;
}

/** Which Debian package provides each program the router may run. */
const programPackages: Record<string, string> = {
  ip: "iproute2",
  tc: "iproute2",
  nft: "nftables",
  iptables: "iptables",
  ip6tables: "iptables",
  "iptables-restore": "iptables",
  "ip6tables-restore": "iptables",
  "iptables-save": "iptables",
  arping: "iputils-arping",
  sysctl: "procps",
  conntrack: "conntrack",
  ethtool: "ethtool",
  ndisc6: "ndisc6",
  keepalived: "keepalived",
  setpriv: "util-linux",
};

/**
 * Programs the shipped sources run. Every program reaches the command runner as the first
 * element of an argv array, but argv is assembled in several ways (literals, ternaries, a
 * helper that picks iptables-restore or ip6tables-restore), so this looks for the programs'
 * names as string literals. `"ip"` is too common a word for that (it is a field name too); it
 * counts when it starts an array followed by an ip(8) option, object or variable. src/lab is
 * a developer tool that runs on a host, never in the image, so it is not counted.
 */
function programsCalled(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const ipArgv =
    /\[\s*"ip"\s*,\s*(?:"(?:-[a-z0-9]+|address|addr|route|link|neigh|netns|rule)"|[a-zA-Z_$][\w$]*\s*[,\]])/;
  for (const file of globSync("src/**/*.ts", { cwd: root })) {
    if (file.endsWith(".test.ts") || file.startsWith("src/lab/") || isIgnored(file)) continue;
    const text = readFileSync(join(root, file), "utf8");
    const literals = new Set([...text.matchAll(/"([a-z0-9][a-z0-9._-]*)"/g)].map((m) => m[1]));
    for (const program of Object.keys(programPackages)) {
      const used = program === "ip" ? ipArgv.test(text) : literals.has(program);
      if (used) found.set(program, [...(found.get(program) ?? []), file]);
    }
  }
  return found;
}

describe("Containerfile: what it copies", () => {
  it("every path it copies from the build context exists and is not ignored", () => {
    const copies = allStages.flatMap((s) =>
      s.instructions.filter((i) => i.keyword === "COPY").map(copyOf),
    );
    const fromContext = copies.filter((c) => c.from === undefined);
    assert.ok(fromContext.length >= 4, "copies package.json, the lock file, bin and src");
    for (const c of fromContext) {
      for (const src of c.sources) {
        const rel = src.replace(/^\.\//, "").replace(/\/$/, "");
        assert.ok(existsSync(join(root, rel)), `line ${c.line}: COPY ${src}: no such path`);
        assert.ok(!isIgnored(rel), `line ${c.line}: COPY ${src}: excluded by .containerignore`);
      }
    }
  });

  it("the runtime stage takes node_modules from a stage that ran npm ci --omit=dev there", () => {
    const fromStage = final.instructions
      .filter((i) => i.keyword === "COPY")
      .map(copyOf)
      .filter((c) => c.from !== undefined);
    assert.equal(fromStage.length, 1);
    const c = fromStage[0];
    const stage = allStages.find((s) => s.name === c?.from);
    assert.ok(stage, `a stage named ${c?.from}`);
    const runs = stage.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
    assert.ok(
      runs.some((r) => /\bnpm ci --omit=dev\b/.test(r) && r.includes("node_modules/node/bin/node")),
      "npm ci --omit=dev, then a check that the pinned node binary is there",
    );
    assert.deepEqual(c?.sources, [`${workdir(stage)}/node_modules`]);
    assert.equal(c?.dest, "./node_modules");
  });

  it(".dockerignore says what .containerignore says", () => {
    assert.deepEqual(ignorePatterns(".dockerignore"), ignored);
  });

  it("what the sources import at run time is a runtime dependency (npm ci --omit=dev installs it)", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const missing: string[] = [];
    for (const file of globSync("src/**/*.ts", { cwd: root })) {
      if (file.endsWith(".test.ts") || isIgnored(file)) continue;
      const text = readFileSync(join(root, file), "utf8");
      for (const m of text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+"([^"]+)"/gm)) {
        const spec = m[1] ?? "";
        if (spec.startsWith(".") || spec.startsWith("node:")) continue;
        const name = spec.startsWith("@")
          ? spec.split("/").slice(0, 2).join("/")
          : (spec.split("/")[0] ?? spec);
        if (!(name in pkg.dependencies)) missing.push(`${file}: ${spec}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});

describe("Containerfile: what it installs and runs", () => {
  const installed = final.instructions
    .filter((i) => i.keyword === "RUN")
    .flatMap((i) => aptPackages(i.args))
    .sort();
  const called = programsCalled();
  const usedBy = (pkg: string): string =>
    [...called]
      .filter(([program]) => programPackages[program] === pkg)
      .map(([program, files]) => `${program} (${files.join(", ")})`)
      .join("; ");

  it("installs the package of every program the router runs", () => {
    assert.deepEqual(installed, [
      "iproute2",
      "iptables",
      "iputils-arping",
      "keepalived",
      "ndisc6",
      "nftables",
      "util-linux",
    ]);
    for (const program of called.keys()) {
      const pkg = programPackages[program] ?? program;
      assert.ok(installed.includes(pkg), `${pkg} is not installed but needed by ${usedBy(pkg)}`);
    }
  });

  // Until the kernel side (src/redirect, with its command runner) is in the tree, nothing
  // runs these programs yet; from then on, a package nothing runs fails here.
  const runnerPresent = existsSync(join(root, "src/redirect/command-runner.ts"));
  it(
    "installs nothing the router does not run",
    { skip: runnerPresent ? false : "src/redirect/command-runner.ts is not in this tree yet" },
    () => {
      for (const pkg of installed)
        assert.ok(
          usedBy(pkg) !== "",
          `${pkg} is installed but the router runs none of its programs`,
        );
    },
  );

  it("runs as the unprivileged user the manifests expect, and enters through bin/egress-router", () => {
    const user = final.instructions.filter((i) => i.keyword === "USER").pop();
    assert.equal(user?.args, String(imageUser));
    assert.match(containerfile, new RegExp(`useradd [^\\n]*--uid ${imageUser}\\b`));
    const entry = final.instructions.filter((i) => i.keyword === "ENTRYPOINT").pop();
    assert.deepEqual(execForm(entry?.args ?? "null"), [`${workdir(final)}/bin/egress-router`]);
    assert.equal(
      final.instructions.some((i) => i.keyword === "CMD"),
      false,
      "no CMD: with no arguments the OpenShift variables select the behaviour",
    );
  });
});

describe("the image's tree runs from a bare environment", () => {
  let image: string;
  let entry: string;
  before(() => {
    image = mkdtempSync(join(tmpdir(), "egress-router-image-"));
    const wd = join(image, workdir(final));
    mkdirSync(wd, { recursive: true });
    for (const c of final.instructions.filter((i) => i.keyword === "COPY").map(copyOf)) {
      const dest = join(wd, c.dest);
      if (c.from !== undefined) {
        // The dependencies stage's node_modules: the checkout's own (npm ci put it there).
        symlinkSync(join(root, "node_modules"), dest.replace(/\/$/, ""));
        continue;
      }
      for (const src of c.sources) {
        const from = join(root, src);
        const to = c.dest.endsWith("/") ? join(dest, src.split("/").pop() ?? src) : dest;
        mkdirSync(dirname(to), { recursive: true });
        cpSync(from, to, {
          recursive: true,
          filter: (p) => !isIgnored(relative(root, p)),
        });
      }
    }
    entry = join(
      image,
      execForm(
        final.instructions.filter((i) => i.keyword === "ENTRYPOINT").pop()?.args ?? "[]",
      )[0] ?? "",
    );
  });
  after(() => rmSync(image, { recursive: true, force: true }));

  const run = (env: Record<string, string>, args: string[] = []) =>
    spawnSync(entry, args, { env, encoding: "utf8", cwd: "/", timeout: 20_000 });

  it("holds no test files, and the entry point is executable", () => {
    assert.ok(statSync(entry).mode & 0o111, "bin/egress-router is executable");
    assert.deepEqual(globSync("**/*.test.ts", { cwd: join(image, workdir(final), "src") }), []);
  });

  it("--help", () => {
    const r = run({}, ["--help"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^egress-router \S+: a fixed, known source IP/);
    assert.match(r.stdout, /\n {2}manifests +write the Kubernetes objects/);
  });

  it("OpenShift mode: EGRESS_ROUTER_MODE=unit-test with only the router's variables", () => {
    const r = run({
      EGRESS_SOURCE: "198.51.100.99",
      EGRESS_GATEWAY: "198.51.100.1",
      EGRESS_ROUTER_MODE: "unit-test",
      EGRESS_DESTINATION: "80 tcp 203.0.113.25",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      'add rule ip nat prerouting iifname "eth0" tcp dport 80 dnat to 203.0.113.25\n' +
        'add rule ip nat postrouting oifname "macvlan0" snat to 198.51.100.99\n',
    );
  });

  it("OpenShift mode with nothing set: usage on stderr, exit 2", () => {
    const r = run({});
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^egress-router \S+: a fixed, known source IP/);
  });
});

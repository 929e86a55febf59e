// docs/kubernetes.md stays true: its EgressRouter example converts, the error it shows is the
// one the converter prints, and its option table and --help list every option there is.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { manifestsCommand } from "../src/cli/manifests.ts";
import { readEgressRouter } from "../src/manifests/egress-router-resource.ts";
import { manifestOptionConfig } from "../src/manifests/manifest-options.ts";

const doc = readFileSync(new URL("../docs/kubernetes.md", import.meta.url), "utf8");
const blocks = [...doc.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({
  lang: m[1],
  text: m[2] ?? "",
}));

describe("docs/kubernetes.md", () => {
  const example = blocks.find((b) => b.lang === "yaml" && b.text.startsWith("# egressrouter.yaml"));

  it("the EgressRouter example converts without a problem", () => {
    assert.ok(example, "the example is there");
    assert.deepEqual(readEgressRouter(example.text, "egressrouter.yaml").problems, []);
  });

  it("the misspelt-field message it shows is the one the converter prints for that example", () => {
    assert.ok(example);
    const shown = blocks.find((b) => b.text.startsWith("spec.redirect.fallbackIp"))?.text.trim();
    const misspelt = example.text.replace("fallbackIP:", "fallbackIp:");
    const messages = readEgressRouter(misspelt, "egressrouter.yaml").problems.map((p) => p.message);
    assert.equal(messages[0], shown);
  });

  it("the option table and --help list every option of the command", () => {
    for (const [name, o] of Object.entries(manifestOptionConfig)) {
      const short = "short" in o ? `\`-${o.short}\`, ` : "";
      assert.ok(doc.includes(`| ${short}\`--${name}`), `docs/kubernetes.md lists --${name}`);
      assert.match(manifestsCommand.help, new RegExp(`--${name}\\b`), `--help lists --${name}`);
    }
  });
});

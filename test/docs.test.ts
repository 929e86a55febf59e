// The docs mirror the code's catalogues; the examples in docs/config.md are accepted by
// `check` as written.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { settings } from "../src/config/catalogue.ts";
import { problemCodes } from "../src/config/config-error.ts";
import { decisionReasons } from "../src/policy/decision.ts";
import { runCli } from "./helpers/run-cli.ts";

const doc = (name: string): string =>
  readFileSync(new URL(`../docs/${name}`, import.meta.url), "utf8");

/** First-column code spans of the markdown table rows under a heading. */
function tableKeys(markdown: string, heading: string): string[] {
  const text = `\n${markdown}`;
  const start = text.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `heading ${heading}`);
  const rest = text.slice(start + heading.length + 2);
  const end = rest.search(/\n#{1,6} /);
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(/^\|\s*`([^`]+)`\s*\|/gm)].map((m) => m[1] ?? "");
}

describe("docs stay in sync with the code", () => {
  it("config.md lists every setting of the catalogue, and only those", () => {
    const documented = tableKeys(doc("config.md"), "## Settings").sort();
    const code = Object.values(settings)
      .map((s) => s.env)
      .sort();
    assert.deepEqual(documented, code);
  });

  it("config.md gives each setting's flag and default as the catalogue does", () => {
    const text = doc("config.md");
    for (const s of Object.values(settings)) {
      const row =
        text.split("\n").find((l) => new RegExp(`^\\|\\s*\`${s.env}\`\\s*\\|`).test(l)) ?? "";
      assert.ok(row.includes(`\`--${s.flag}\``), `${s.env} flag --${s.flag}`);
      if (s.fromFile) assert.ok(row.includes(`\`${s.env}_FILE\``), `${s.env}_FILE`);
      const cells = row.split("|").map((c) => c.trim());
      if (s.default !== undefined)
        assert.ok(cells.includes(`\`${s.default}\``), `${s.env} default`);
    }
  });

  it("modes.md lists every reason the HTTP proxy decides with, and only those", () => {
    assert.deepEqual(tableKeys(doc("modes.md"), "### Answers").sort(), [...decisionReasons].sort());
  });

  it("errors.md lists every problem code, and only those", () => {
    assert.deepEqual(
      tableKeys(doc("errors.md"), "# Problem codes").sort(),
      [...problemCodes].sort(),
    );
  });
});

describe("docs/config.md examples pass check", () => {
  const blocks = [
    ...doc("config.md").matchAll(/<!-- example: (\w+) -->\n+```text\n([\s\S]*?)```/g),
  ];
  it("there are examples for each grammar", () => {
    assert.deepEqual([...new Set(blocks.map((b) => b[1]))].sort(), [
      "EGRESS_DESTINATION",
      "EGRESS_DNS_PROXY_DESTINATION",
      "EGRESS_HTTP_PROXY_DESTINATION",
    ]);
  });
  for (const [, setting = "", text = ""] of blocks) {
    it(`${setting}: ${text.split("\n")[0]}`, async () => {
      const r = await runCli(["check"], { [setting]: text });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^# ${setting} `));
    });
  }
});

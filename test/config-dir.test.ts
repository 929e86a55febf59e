// EGRESS_CONFIG_DIR: a setting per file, read after flags, variables and _FILE settings.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { settings } from "../src/config/catalogue.ts";
import { readSetting } from "../src/config/read-setting.ts";
import { createConfigMapDir } from "./helpers/configmap.ts";

describe("EGRESS_CONFIG_DIR", () => {
  it("is read after flags, variables and _FILE, and before the default", async (t) => {
    const cm = await createConfigMapDir({
      EGRESS_SOURCE: "192.0.2.10/24\n",
      EGRESS_DRAIN_SECONDS: "5\n",
      EGRESS_HTTP_PROXY_DESTINATION: "example.com\n*\n",
    });
    t.after(() => cm.remove());
    const env = { EGRESS_CONFIG_DIR: cm.dir };
    const cases = [
      {
        name: "from the directory, newline dropped",
        spec: settings.source,
        env,
        flags: {},
        value: "192.0.2.10/24",
        origin: `EGRESS_CONFIG_DIR ${cm.dir}/EGRESS_SOURCE`,
      },
      {
        name: "rule text keeps its newlines",
        spec: settings.httpProxyDestination,
        env,
        flags: {},
        value: "example.com\n*\n",
        origin: `EGRESS_CONFIG_DIR ${cm.dir}/EGRESS_HTTP_PROXY_DESTINATION`,
      },
      {
        name: "a variable wins",
        spec: settings.source,
        env: { ...env, EGRESS_SOURCE: "192.0.2.20" },
        flags: {},
        value: "192.0.2.20",
        origin: "EGRESS_SOURCE",
      },
      {
        name: "a flag wins",
        spec: settings.drainSeconds,
        env,
        flags: { "drain-seconds": "9" },
        value: "9",
        origin: "--drain-seconds",
      },
      {
        name: "--config-dir works like the variable",
        spec: settings.drainSeconds,
        env: {},
        flags: { "config-dir": cm.dir },
        value: "5",
        origin: `--config-dir ${cm.dir}/EGRESS_DRAIN_SECONDS`,
      },
      {
        name: "no file: the default",
        spec: settings.adminPort,
        env,
        flags: {},
        value: "9090",
        origin: "default",
      },
    ];
    for (const c of cases) {
      const r = readSetting(c.spec, c.env, c.flags);
      assert.deepEqual(r.problems, [], c.name);
      assert.equal(r.setting.value, c.value, c.name);
      assert.equal(r.setting.origin, c.origin, c.name);
    }
  });
});

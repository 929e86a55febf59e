// Hot reload through the real daemon host: a ConfigMap-style `..data` symlink swap in a
// temporary directory, real TCP connections to the echo mode, the real admin server.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startEchoDaemon } from "./helpers/daemon.ts";
import { lineClient } from "./helpers/net.ts";
import { settings } from "../src/config/catalogue.ts";

const v1 = "listen 0\nreply v1\ndeny blocked\n";
const v2 = "# second version\nlisten 0\nreply v2\ndeny blocked\n";

function metric(body: string, line: string): number {
  const found = body.split("\n").find((l) => l.startsWith(line + " "));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}

describe("hot reload", () => {
  it("applies a ConfigMap swap; new connections use it, open ones keep theirs", async (t) => {
    const d = await startEchoDaemon(t, v1);
    const old = await lineClient(d.port);
    t.after(() => old.close());
    assert.equal(await old.ask("hello"), "v1 hello");

    const from = d.logs.length;
    await d.configMap.update({ rules: v2 });
    const applied = await d.waitLog("config applied", from);
    assert.equal(applied["setting"], "ECHO_TEST_RULES");
    assert.equal(applied["trigger"], "watch");

    const fresh = await lineClient(d.port);
    t.after(() => fresh.close());
    assert.equal(await fresh.ask("hello"), "v2 hello");
    assert.equal(await old.ask("still there"), "v1 still there", "open connection kept its config");

    const metrics = (await d.get("/metrics")).body;
    assert.equal(metric(metrics, 'egress_router_config_reloads_total{result="applied"}'), 2); // start + swap
    assert.equal(metric(metrics, "egress_router_config_last_reload_successful"), 1);
  });

  it("rejects a bad config, logs every problem, counts it, and keeps serving the old one", async (t) => {
    const d = await startEchoDaemon(t, v1);
    const open = await lineClient(d.port);
    t.after(() => open.close());
    assert.equal(await open.ask("a"), "v1 a");

    const from = d.logs.length;
    await d.configMap.update({ rules: "listen 0\nreply v3\nbogus line\nalso bad\n" });
    const rejected = await d.waitLog("config reload rejected", from);
    assert.equal(rejected.level, "error");
    assert.deepEqual(rejected["problems"], [
      'ECHO_TEST_RULES line 3: Cannot parse "bogus line": not a rule; use "listen <port>", "reply <prefix>", "deny <word>" or "name <host> <address>..."',
      'ECHO_TEST_RULES line 4: Cannot parse "also bad": not a rule; use "listen <port>", "reply <prefix>", "deny <word>" or "name <host> <address>..."',
    ]);

    // old rules still serve: the open connection and a new one
    assert.equal(await open.ask("b"), "v1 b");
    const fresh = await lineClient(d.port);
    t.after(() => fresh.close());
    assert.equal(await fresh.ask("c"), "v1 c");

    const metrics = (await d.get("/metrics")).body;
    assert.equal(metric(metrics, 'egress_router_config_reloads_total{result="rejected"}'), 1);
    assert.equal(metric(metrics, "egress_router_config_last_reload_successful"), 0);
    assert.equal(
      (await d.get("/readyz")).status,
      200,
      "a rejected reload does not make the router unready",
    );

    const status = JSON.parse((await d.get("/status.json")).body) as {
      config: { lastReloadOk: boolean };
      activity: { reloads: { result: string; problems: string[] }[] };
    };
    assert.equal(status.config.lastReloadOk, false);
    assert.equal(status.activity.reloads[0]?.result, "rejected");
    assert.equal(status.activity.reloads[0]?.problems.length, 2);

    // fixing the file applies it
    const from2 = d.logs.length;
    await d.configMap.update({ rules: v2 });
    await d.waitLog("config applied", from2);
    const after = await lineClient(d.port);
    t.after(() => after.close());
    assert.equal(await after.ask("d"), "v2 d");
  });

  it("rejects a config the service refuses to apply (a listen port change) and keeps serving", async (t) => {
    const d = await startEchoDaemon(t, v1);
    const from = d.logs.length;
    await d.configMap.update({ rules: `listen ${d.port === 1 ? 2 : 1}\nreply v9\n` });
    const rejected = await d.waitLog("config reload rejected", from);
    assert.match(
      String((rejected["problems"] as string[])[0]),
      /^Cannot apply the configuration: listen port 0 cannot change to \d+ at run time$/,
    );
    const c = await lineClient(d.port);
    t.after(() => c.close());
    assert.equal(await c.ask("x"), "v1 x");
  });

  it("rejects a deleted rules file and applies it again when it comes back", async (t) => {
    const d = await startEchoDaemon(t, v1);
    const from = d.logs.length;
    await d.configMap.update({ other: "x" }); // the `rules` key is gone from the ConfigMap
    const rejected = await d.waitLog("config reload rejected", from);
    assert.match(
      String((rejected["problems"] as string[])[0]),
      /^ECHO_TEST_RULES_FILE: Cannot read ".*rules": no such file; /,
    );
    const c = await lineClient(d.port);
    t.after(() => c.close());
    assert.equal(await c.ask("x"), "v1 x");
    const from2 = d.logs.length;
    await d.configMap.update({ rules: v2 });
    await d.waitLog("config applied", from2);
  });

  it("ignores directory events that do not change the rules (content is compared)", async (t) => {
    const d = await startEchoDaemon(t, v1);
    const from = d.logs.length;
    await d.configMap.update({ rules: v1 }); // same text, new ..data directory
    await new Promise((r) => setTimeout(r, 400)); // debounce is 100 ms
    assert.equal(d.logs.slice(from).filter((l) => l.msg === "config applied").length, 0);
    const metrics = (await d.get("/metrics")).body;
    assert.ok(metric(metrics, 'egress_router_config_reloads_total{result="unchanged"}') >= 1);
    assert.equal(metric(metrics, 'egress_router_config_reloads_total{result="applied"}'), 1);
  });

  it("reload under load loses no connection", async (t) => {
    const d = await startEchoDaemon(t, v1);
    // long-lived connections open across every reload
    const longLived = await Promise.all([1, 2, 3, 4].map(() => lineClient(d.port)));
    t.after(() => Promise.all(longLived.map((c) => c.close())));
    for (const c of longLived) assert.equal(await c.ask("first"), "v1 first");

    let stop = false;
    const errors: string[] = [];
    const seen = new Set<string>();
    let exchanges = 0;
    const worker = async (id: number) => {
      while (!stop) {
        try {
          const c = await lineClient(d.port);
          const answer = await c.ask(`w${id}`);
          const prefix = answer.split(" ")[0] ?? "";
          if (answer !== `${prefix} w${id}` || !/^v\d$/.test(prefix))
            errors.push(`bad answer "${answer}"`);
          seen.add(prefix);
          exchanges += 1;
          await c.close();
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    };
    const workers = [1, 2, 3, 4, 5, 6].map((i) => worker(i));
    const versions = ["v2", "v3", "v4", "v5", "v6"];
    for (const v of versions) {
      const from = d.logs.length;
      await d.configMap.update({ rules: `listen 0\nreply ${v}\n` });
      await d.waitLog("config applied", from);
      await new Promise((r) => setTimeout(r, 120));
      for (const c of longLived) {
        const a = await c.ask("ping").catch((err: Error) => `error: ${err.message}`);
        if (a !== "v1 ping") errors.push(`long-lived connection answered "${a}"`);
      }
    }
    stop = true;
    await Promise.all(workers);
    assert.deepEqual(errors, []);
    assert.ok(exchanges > 50, `only ${exchanges} exchanges during the reloads`);
    assert.ok(seen.has("v6"), "the last version served");
    assert.ok(seen.size >= 3, `saw versions ${[...seen].join(",")}`);

    // every connection that closed was closed normally
    const ends = d.logs.filter((l) => l.msg === "connection closed").map((l) => l["end"]);
    assert.ok(ends.length >= exchanges);
    assert.deepEqual([...new Set(ends)], ["done"]);
  });

  it("a forced reload (what SIGHUP does) applies the rules even when unchanged", async (t) => {
    const d = await startEchoDaemon(t, v1);
    const from = d.logs.length;
    assert.equal(await d.daemon.reload("signal", true), "applied");
    assert.equal((await d.waitLog("config applied", from))["trigger"], "signal");
    assert.equal(
      await d.daemon.reload("watch"),
      "unchanged",
      "without force, same text is no reload",
    );
  });
});

describe("settings from a ConfigMap directory (EGRESS_CONFIG_DIR)", () => {
  it("applies rule changes and reports a changed fixed setting as needing a restart", async (t) => {
    const d = await startEchoDaemon(t, v1, {
      layout: "config-dir",
      keys: { EGRESS_SOURCE: "192.0.2.10\n", EGRESS_GATEWAY: "192.0.2.1\n" },
      fixedSettings: [settings.source, settings.gateway],
    });
    const before = JSON.parse((await d.get("/status.json")).body) as { source: string };
    assert.equal(
      before.source,
      "192.0.2.10",
      "the trailing newline of a YAML block is not part of it",
    );

    const from = d.logs.length;
    await d.configMap.update({
      ECHO_TEST_RULES: v2,
      EGRESS_SOURCE: "192.0.2.99\n",
      EGRESS_GATEWAY: "192.0.2.1\n",
    });
    const restart = await d.waitLog("restart needed", from);
    assert.equal(restart.level, "warn");
    assert.equal(restart["setting"], "EGRESS_SOURCE");
    assert.deepEqual(restart["problems"], [
      'EGRESS_SOURCE: Cannot change "192.0.2.10" to "192.0.2.99" at run time: the router keeps using "192.0.2.10"; restart it to apply the change',
    ]);
    await d.waitLog("config applied", from); // the rules themselves are reloadable
    const c = await lineClient(d.port);
    t.after(() => c.close());
    assert.equal(await c.ask("z"), "v2 z");

    const status = JSON.parse((await d.get("/status.json")).body) as {
      source: string;
      restartNeeded: string[];
    };
    assert.equal(
      status.source,
      "192.0.2.10",
      "the running source address is shown, not the file's",
    );
    assert.equal(status.restartNeeded.length, 1);
    assert.match((await d.get("/")).body, /Restart needed/);
    const metrics = (await d.get("/metrics")).body;
    assert.equal(metric(metrics, 'egress_router_config_reloads_total{result="restart-needed"}'), 1);

    // said once per new value, not on every later reload
    const from2 = d.logs.length;
    await d.configMap.update({
      ECHO_TEST_RULES: v1,
      EGRESS_SOURCE: "192.0.2.99\n",
      EGRESS_GATEWAY: "192.0.2.1\n",
    });
    await d.waitLog("config applied", from2);
    assert.equal(d.logs.slice(from2).filter((l) => l.msg === "restart needed").length, 0);
  });
});

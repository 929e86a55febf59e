// legacy mode on the real kernel: the router stays up under the daemon host and re-loads
// its NAT rules from a ConfigMap-style file (and on SIGHUP), atomically; a connection
// opened before a change keeps working after it, and a refused rule set keeps the old rules.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Lab } from "../src/lab/lab.ts";
import { createLab } from "../src/lab/lab.ts";
import { createCommandRunner, namespaceRunner } from "../src/redirect/command-runner.ts";
import { memoryKernelSettings } from "../src/redirect/kernel-settings.ts";
import type { RedirectBase } from "../src/redirect/legacy-mode.ts";
import { compileRedirect, legacyModeDefinition } from "../src/redirect/legacy-mode.ts";
import type { ConfigMapDir } from "./helpers/configmap.ts";
import { createConfigMapDir } from "./helpers/configmap.ts";
import { privileged } from "./helpers/privileged.ts";
import { spawnRouter } from "./helpers/router.ts";

type LogLine = { msg: string; [k: string]: unknown };

/** Collects a child's stdout lines; `next` waits for the first line after `from` that matches. */
function lines(child: ChildProcess) {
  const seen: string[] = [];
  let partial = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    partial += d;
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    seen.push(...parts.filter(Boolean));
  });
  const next = async (match: (l: string) => boolean, from = 0, ms = 30_000): Promise<string> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = seen.slice(from).find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no such line in time; got:\n${seen.join("\n")}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return { seen, next };
}

const longConnection = fileURLToPath(new URL("./helpers/long-connection.ts", import.meta.url));

describe("legacy mode: stays up and re-applies its rules", privileged(), () => {
  let lab: Lab;
  let cm: ConfigMapDir;
  before(async () => {
    lab = await createLab();
    cm = await createConfigMapDir({ EGRESS_DESTINATION: "9000 tcp 203.0.113.25\n" });
  });
  after(async () => {
    await lab?.down();
    await cm?.remove();
  });

  it("hot re-apply under traffic: file change, bad rules, SIGHUP, SIGTERM", async () => {
    const router = spawnRouter(lab, [], {
      EGRESS_SOURCE: lab.v4.source,
      EGRESS_GATEWAY: lab.v4.gateway,
      EGRESS_ROUTER_MODE: "legacy",
      EGRESS_DESTINATION_FILE: cm.path("EGRESS_DESTINATION"),
      EGRESS_LOG_FORMAT: "json",
    });
    const exited = new Promise<number | null>((r) => router.once("exit", (c) => r(c)));
    const log = lines(router);
    const msg =
      (m: string, extra: (l: LogLine) => boolean = () => true) =>
      (line: string) => {
        const l = JSON.parse(line) as LogLine;
        return l.msg === m && extra(l);
      };
    await log.next(msg("router ready"));
    assert.ok(
      log.seen.some(
        msg("network changed", (l) => l["change"] === "added 198.51.100.99/32 to macvlan0"),
      ),
    );

    const to = lab.v4.routerCluster;
    const adminStatus = async () =>
      (
        await lab.exec("client", [
          "curl",
          "-s",
          "-o",
          "/dev/null",
          "-m",
          "3",
          "-w",
          "%{http_code}",
          `http://${to}:9090/healthz`,
        ])
      ).stdout;
    // the admin port is reachable from the cluster side while unmapped ports are refused
    assert.equal(await adminStatus(), "200");
    // a connection opened under the first rules
    const open = lab.spawn("client", [process.execPath, longConnection, to, "9000"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    const openOut = lines(open);
    const greeting = JSON.parse(await openOut.next(() => true)) as { peer: string; local: string };
    assert.deepEqual([greeting.peer, greeting.local], [lab.v4.source, "203.0.113.25"]);

    // 1. the ConfigMap changes: new connections follow the new rules, the open one stays
    let from = log.seen.length;
    await cm.update({
      EGRESS_DESTINATION: "9000 tcp 203.0.113.26\n22 tcp 203.0.113.27\n203.0.113.25\n",
    });
    await log.next(
      msg("config applied", (l) => l["trigger"] === "watch"),
      from,
    );
    const moved = await lab.probe("client", { protocol: "tcp", address: to, port: 9000 });
    assert.equal(moved.view?.local, "203.0.113.26");
    const added = await lab.probe("client", { protocol: "tcp", address: to, port: 22 });
    assert.equal(`${added.view?.peer} ${added.view?.local}`, `${lab.v4.source} 203.0.113.27`);
    const fallback = await lab.probe("client", { protocol: "udp", address: to, port: 7000 });
    assert.equal(`${fallback.view?.peer} ${fallback.view?.local}`, `${lab.v4.source} 203.0.113.25`);
    // the admin port stays with the router, even under a fallback that takes every port
    assert.equal(await adminStatus(), "200");
    open.stdin?.write("still here 1\n");
    assert.equal(await openOut.next((l) => l.startsWith("still here 1")), "still here 1");

    // 2. bad rules: rejected with every problem, the old rules keep working
    from = log.seen.length;
    await cm.update({ EGRESS_DESTINATION: "9000 tcp nonsense\n70000 udp 203.0.113.25\n" });
    const rejected = JSON.parse(await log.next(msg("config reload rejected"), from)) as LogLine;
    assert.deepEqual(rejected["problems"], [
      'EGRESS_DESTINATION line 1: Cannot parse "9000 tcp nonsense": "nonsense" is not an IP address; write the destination\'s IPv4 or IPv6 address (host names are not allowed: the kernel NAT needs an address)',
      "EGRESS_DESTINATION line 2: Cannot use local port 70000: ports are 1 to 65535; pick a port in that range",
    ]);
    assert.equal(
      (await lab.probe("client", { protocol: "tcp", address: to, port: 9000 })).view?.local,
      "203.0.113.26",
    );

    // 3. SIGHUP re-reads at once (still bad: rejected again, by signal)
    from = log.seen.length;
    router.kill("SIGHUP");
    await log.next(
      msg("config reload rejected", (l) => l["trigger"] === "signal"),
      from,
    );

    // 4. the rule the open connection came through goes away: it keeps working, new ones are refused
    from = log.seen.length;
    await cm.update({ EGRESS_DESTINATION: "22 tcp 203.0.113.27\n" });
    await log.next(msg("config applied"), from);
    const gone = await lab.probe("client", { protocol: "tcp", address: to, port: 9000 });
    assert.equal(gone.outcome, "refused");
    open.stdin?.write("still here 2\n");
    assert.equal(await openOut.next((l) => l.startsWith("still here 2")), "still here 2");

    // 5. SIGTERM: exit 0; the kernel keeps the rules, the open connection survives the process
    router.kill("SIGTERM");
    assert.equal(await exited, 0);
    open.stdin?.write("still here 3\n");
    assert.equal(await openOut.next((l) => l.startsWith("still here 3")), "still here 3");
    open.stdin?.end();
    assert.deepEqual((await lab.firewall()).rejectedSources, []);
  });

  it("a rule set the kernel refuses leaves the old rules in place (the Service directly)", async () => {
    const runner = namespaceRunner(
      createCommandRunner({ env: process.env }),
      lab.namespaces.router,
    );
    const base: RedirectBase = {
      source: { address: lab.v4.source, prefixLength: 32, family: 4 },
      gateway: lab.v4.gateway,
      clusterInterface: "eth0",
      egressInterface: "macvlan0",
      localPorts: [],
      backend: "nft",
    };
    const mode = legacyModeDefinition(base, {
      runner,
      kernel: memoryKernelSettings(),
      log: () => {},
    });
    const service = mode.create(mode.compile("7000 tcp 203.0.113.25\n"));
    await service.start();
    after(() => service.stop(0));
    const to = lab.v4.routerCluster;
    assert.equal(
      (await lab.probe("client", { protocol: "tcp", address: to, port: 7000 })).view?.local,
      "203.0.113.25",
    );

    // valid for the grammar, refused by nft: an interface name longer than the kernel allows
    const refused = compileRedirect(
      { ...base, clusterInterface: "a-name-far-too-long" },
      "7000 tcp 203.0.113.26\n",
    );
    await assert.rejects(service.apply(refused), {
      name: "CommandError",
      message:
        /^Cannot run "ip netns exec \S+ nft -f -": exit code 1, stderr "\/dev\/stdin:\d+:\d+-\d+: Error: String exceeds maximum length of 16 \| add rule ip nat prerouting iifname "a-name-far-too-long"/,
    });
    assert.equal(
      (await lab.probe("client", { protocol: "tcp", address: to, port: 7000 })).view?.local,
      "203.0.113.25",
    );
    await (service as unknown as { refreshHits(): Promise<void> }).refreshHits();
    assert.deepEqual(service.status().rules, [{ line: 1, text: "7000 tcp 203.0.113.25", hits: 2 }]);
  });
});

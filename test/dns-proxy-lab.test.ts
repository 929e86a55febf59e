// The DNS proxy in the network-namespace lab, as OpenShift runs it: the router image's
// dns-proxy mode sets up the egress network (init container), then egress-router runs as
// the egress-dns-proxy image with its rules in a ConfigMap-style file. Clients in the
// cluster reach the external server, whose firewall admits only the reserved source
// address, by address and by name; DNS changes, a dying address and a reload happen while
// they do.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Lab } from "../src/lab/lab.ts";
import { createLab } from "../src/lab/lab.ts";
import type { ConfigMapDir } from "./helpers/configmap.ts";
import { createConfigMapDir } from "./helpers/configmap.ts";
import { privileged } from "./helpers/privileged.ts";
import { runRouter, spawnRouter } from "./helpers/router.ts";

const clients = fileURLToPath(new URL("./fixtures/lab-clients.ts", import.meta.url));

interface Summary {
  ok: number;
  errors: string[];
  locals: Record<string, number>;
  peers: Record<string, number>;
}

/** Stdout lines of a child, and a wait for the first one (after `from`) that matches. */
function lines(child: ChildProcess) {
  const seen: string[] = [];
  let partial = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    partial += d;
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    seen.push(...parts.filter(Boolean));
  });
  const next = async (match: (l: string) => boolean, from = 0, ms = 15_000): Promise<string> => {
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

const msg =
  (m: string, extra: (l: Record<string, unknown>) => boolean = () => true) =>
  (line: string): boolean => {
    const l = JSON.parse(line) as Record<string, unknown>;
    return l["msg"] === m && extra(l);
  };

describe("DNS proxy in the lab", privileged(), () => {
  let lab: Lab;
  let cm: ConfigMapDir;
  let router: ChildProcess;
  let log: ReturnType<typeof lines>;
  let to: string;

  /** `count` connections from the client pod to the router's `port`. */
  async function connect(port: number, count: number): Promise<Summary> {
    const r = await lab.exec(
      "client",
      [process.execPath, clients, to, String(port), "--count", String(count)],
      { timeoutMs: 60_000 },
    );
    return JSON.parse(r.stdout) as Summary;
  }

  before(async () => {
    lab = await createLab();
    to = lab.v4.routerCluster;
    // The init container: network only (source address, routes, ARP), no NAT.
    const init = await runRouter(lab, [], {
      EGRESS_ROUTER_MODE: "dns-proxy",
      EGRESS_SOURCE: lab.v4.source,
      EGRESS_GATEWAY: lab.v4.gateway,
    });
    assert.equal(init.code, 0, init.stderr);
    cm = await createConfigMapDir({
      EGRESS_DNS_PROXY_DESTINATION: [
        "# by address",
        "7000 203.0.113.25",
        "# by name, to another port",
        "5432 db.example.com 7000",
        "# a name with two IPv4 addresses",
        "9000 pool.example.com",
      ].join("\n"),
    });
    // The proxy container: the OpenShift image's variables, nothing else in its environment.
    router = spawnRouter(lab, [], {
      EGRESS_DNS_PROXY_DESTINATION_FILE: cm.path("EGRESS_DNS_PROXY_DESTINATION"),
      EGRESS_DNS_PROXY_DNS_TTL: "1s..1m",
      EGRESS_DNS_PROXY_HEALTH_CHECK: "0",
      EGRESS_LOG_FORMAT: "json",
    });
    log = lines(router);
    await log.next(msg("router ready"));
  });

  after(async () => {
    if (router && router.exitCode === null) router.kill("SIGKILL");
    await lab?.down();
    await cm?.remove();
  });

  it("forwards by address and by name, from the reserved source only", async () => {
    await lab.resetFirewall();
    const byAddress = await connect(7000, 3);
    const byName = await connect(5432, 3);
    assert.deepEqual(byAddress, {
      ok: 3,
      errors: [],
      locals: { "203.0.113.25": 3 },
      peers: { [lab.v4.source]: 3 },
    });
    assert.deepEqual(byName, {
      ok: 3,
      errors: [],
      locals: { "203.0.113.26": 3 },
      peers: { [lab.v4.source]: 3 },
    });
    const fw = await lab.firewall();
    assert.equal(fw.rejected, 0);
    assert.ok(fw.admitted >= 6, `the firewall admitted ${fw.admitted} connections`);
  });

  it("follows a DNS change for new connections", async () => {
    await lab.setDnsRecords(
      lab.records.map((r) =>
        r.name === "db.example.com" ? { ...r, addresses: ["203.0.113.27"] } : r,
      ),
    );
    // TTL 1 s, bounds 1 s..1 m: the proxy asks again within about a second.
    const deadline = Date.now() + 10_000;
    let last: Summary | undefined;
    while (Date.now() < deadline) {
      last = await connect(5432, 1);
      if (last.locals["203.0.113.27"] === 1) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.deepEqual(last?.locals, { "203.0.113.27": 1 });
    assert.deepEqual(last?.errors, []);
  });

  it("fails over when one address dies: no client sees an error", async () => {
    // The service on 203.0.113.25 dies: its connects are refused (a reset).
    await lab.exec("external", ["nft", "-f", "-"], {
      input: `table inet dnsproxytest {
  chain input {
    type filter hook input priority -10; policy accept;
    ip daddr 203.0.113.25 tcp dport 9000 reject with tcp reset
  }
}
`,
    });
    try {
      const r = await connect(9000, 10);
      assert.deepEqual(r, {
        ok: 10,
        errors: [],
        locals: { "203.0.113.26": 10 },
        peers: { [lab.v4.source]: 10 },
      });
      const failed = log.seen.filter(
        msg("upstream connect failed", (l) => l["address"] === "203.0.113.25"),
      );
      assert.ok(failed.length >= 1, "the refused address was tried and marked down");
      assert.ok(failed.length <= 2, `and then skipped (${failed.length} attempts)`);
    } finally {
      await lab.exec("external", ["nft", "delete", "table", "inet", "dnsproxytest"]);
    }
  });

  it("reloads its rules under traffic without dropping a connection, and drains on SIGTERM", async () => {
    const load = lab.spawn(
      "client",
      [process.execPath, clients, to, "7000", "--until-stdin-ends", "--concurrency", "4"],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    const loadOut = lines(load);
    await new Promise((r) => setTimeout(r, 1500));
    const from = log.seen.length;
    await cm.update({
      EGRESS_DNS_PROXY_DESTINATION: "7000 203.0.113.27\n8443 api.example.com 443\n",
    });
    await log.next(
      msg("config applied", (l) => l["trigger"] === "watch"),
      from,
    );
    await new Promise((r) => setTimeout(r, 1000));
    load.stdin?.end();
    const summary = JSON.parse(await loadOut.next(() => true, 0, 20_000)) as Summary;
    assert.deepEqual(summary.errors, []);
    assert.ok(summary.ok >= 20, `${summary.ok} connections during the reload`);
    assert.ok((summary.locals["203.0.113.25"] ?? 0) > 0, "before the reload: the old target");
    assert.ok((summary.locals["203.0.113.27"] ?? 0) > 0, "after the reload: the new target");
    const added = await connect(8443, 1);
    assert.deepEqual(added.locals, { "203.0.113.25": 1 });
    // Removed ports stop accepting.
    const removed = await connect(5432, 1);
    assert.deepEqual(removed.errors, ["ECONNREFUSED"]);

    const exited = new Promise<number | null>((r) => router.once("exit", (c) => r(c)));
    router.kill("SIGTERM");
    assert.equal(await exited, 0);
  });
});

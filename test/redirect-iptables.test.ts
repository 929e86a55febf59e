// The iptables backend on the real kernel, with a plain veth as the egress interface (the
// lab's other link type): the same rule forms, the same refusal, counters read back.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Lab } from "../src/lab/lab.ts";
import { createLab } from "../src/lab/lab.ts";
import { createCommandRunner, namespaceRunner } from "../src/redirect/command-runner.ts";
import { planRedirect } from "../src/redirect/plan.ts";
import { readRuleHits } from "../src/redirect/rule-hits.ts";
import { parseRedirectRules } from "../src/config/redirect-rules.ts";
import { privileged } from "./helpers/privileged.ts";
import { runRouter } from "./helpers/router.ts";

describe("redirect mode with iptables-restore, egress over a veth", privileged(), () => {
  let lab: Lab;
  before(async () => {
    lab = await createLab({ egressLink: "veth", egressInterface: "net1" });
  });
  after(() => lab?.down());

  const rules = "80 tcp 203.0.113.25\n8080 tcp 203.0.113.26 80\n514 udp 203.0.113.25\n";

  it("EGRESS_ROUTER_MODE=http-proxy sets up the network only, and forwards nothing", async () => {
    // as in a pod that inherited forwarding from its node
    await lab.exec("router", ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    const r = await runRouter(lab, [], {
      EGRESS_SOURCE: `${lab.v4.source}/24`,
      EGRESS_GATEWAY: lab.v4.gateway,
      EGRESS_ROUTER_MODE: "http-proxy",
      EGRESS_INTERFACE: "net1",
      EGRESS_NAT_BACKEND: "iptables",
    });
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    assert.deepEqual(r.stdout.split("\n").filter(Boolean).slice(-3), [
      "egress-router: announced 198.51.100.99 on net1 (gratuitous ARP)",
      "egress-router: forwarding refused (iptables): a proxy pod is nobody's gateway",
      "egress-router: announced 198.51.100.99 on net1 again, 2000 ms later",
    ]);
    assert.doesNotMatch((await lab.exec("router", ["iptables-save", "-t", "nat"])).stdout, /-A /);

    // what a proxy in the pod does: connect out itself, from the reserved source
    await lab.resetFirewall();
    const own = await lab.probe("router", {
      protocol: "tcp",
      address: lab.v4.external[0] ?? "",
      port: 443,
    });
    assert.equal(own.view?.peer, lab.v4.source);
    // a client that routes through the proxy pod is refused, not let out with its own address
    await lab.exec("client", ["ip", "route", "add", "203.0.113.0/24", "via", lab.v4.routerCluster]);
    const through = await lab.probe("client", {
      protocol: "tcp",
      address: lab.v4.external[0] ?? "",
      port: 443,
    });
    await lab.exec("client", ["ip", "route", "del", "203.0.113.0/24"]);
    assert.equal(through.outcome, "refused");
    assert.deepEqual(await lab.firewall(), { admitted: 1, rejected: 0, rejectedSources: [] });
  });

  it("redirects each rule, refuses the rest, and counts connections per rule", async () => {
    // the network is in place from the proxy-mode setup (forwarding was inherited): only NAT is added
    const r = await runRouter(lab, ["redirect", "--no-wait", "--nat-backend", "iptables"], {
      EGRESS_SOURCE: `${lab.v4.source}/24`,
      EGRESS_GATEWAY: lab.v4.gateway,
      EGRESS_INTERFACE: "net1",
      EGRESS_DESTINATION: rules,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.split("\n").filter(Boolean), [
      "egress-router: network already set up (198.51.100.99 on net1, default via 198.51.100.1); left as it is",
      "egress-router: NAT loaded (iptables): 3 rules, SNAT to 198.51.100.99 on net1, other ports refused",
    ]);
    const saved = (await lab.exec("router", ["iptables-save", "-t", "nat"])).stdout;
    assert.match(saved, /-A POSTROUTING -o net1 -j SNAT --to-source 198\.51\.100\.99/);

    await lab.resetFirewall();
    const to = lab.v4.routerCluster;
    const web = await lab.probe("client", { protocol: "http", address: to, port: 8080 });
    const log = await lab.probe("client", { protocol: "udp", address: to, port: 514 });
    assert.equal(
      `${web.view?.peer} ${web.view?.local}:${web.view?.localPort}`,
      "198.51.100.99 203.0.113.26:80",
    );
    assert.equal(
      `${log.view?.peer} ${log.view?.local}:${log.view?.localPort}`,
      "198.51.100.99 203.0.113.25:514",
    );
    const refused = await lab.probe("client", { protocol: "tcp", address: to, port: 7000 });
    assert.equal(refused.outcome, "refused");
    assert.deepEqual(await lab.firewall(), { admitted: 2, rejected: 0, rejectedSources: [] });

    const plan = planRedirect({
      source: { address: lab.v4.source, prefixLength: 32, family: 4 },
      gateway: lab.v4.gateway,
      rules: parseRedirectRules(rules).rules,
      clusterInterface: "eth0",
      egressInterface: "net1",
      nat: true,
    });
    const runner = namespaceRunner(
      createCommandRunner({ env: process.env }),
      lab.namespaces.router,
    );
    assert.ok(plan.nat);
    assert.deepEqual(
      [...(await readRuleHits(plan.nat, "iptables", runner))],
      [
        [1, 0],
        [2, 1],
        [3, 1],
      ],
    );
  });

  it("--remove takes the rules out again", async () => {
    const r = await runRouter(lab, ["redirect", "--remove", "--nat-backend", "iptables"], {
      EGRESS_SOURCE: lab.v4.source,
      EGRESS_GATEWAY: lab.v4.gateway,
    });
    assert.equal(r.stdout, "egress-router: NAT removed (iptables, IPv4)\n");
    const saved = (await lab.exec("router", ["iptables-save"])).stdout;
    assert.doesNotMatch(saved, /DNAT|SNAT|REJECT/);
    const p = await lab.probe("client", {
      protocol: "tcp",
      address: lab.v4.routerCluster,
      port: 8080,
      timeoutMs: 500,
    });
    assert.equal(p.outcome, "refused", "nothing listens on the router itself");
  });
});

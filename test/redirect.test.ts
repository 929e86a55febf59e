// Redirect mode on the real kernel, in a lab: the router image's init mode (no PATH, as the
// OpenShift image ran), every rule form over TCP, UDP and SCTP, the refusal of unmapped
// ports, an idempotent re-run, and the external side seeing nothing but the reserved source.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Lab } from "../src/lab/lab.ts";
import { createLab, sctpUnsupportedReason } from "../src/lab/lab.ts";
import type { ProbeResult } from "../src/lab/lab-probe.ts";
import { defaultEgressInterface } from "../src/lab/topology.ts";
import { privilegedOver } from "./helpers/privileged.ts";
import { linkMacs } from "./helpers/wire.ts";
import { runRouter } from "./helpers/router.ts";

const bogusMac = "02:00:00:00:00:01";
/** every test here runs over both: the interface OpenShift SDN creates, and ipvlan L2 */
const EGRESS_TYPES = ["macvlan", "ipvlan"] as const;

for (const link of EGRESS_TYPES) {
  describe(`redirect mode on the real kernel (IPv4, nft, ${link})`, privilegedOver(link), () => {
    const dev = defaultEgressInterface(link);
    let lab: Lab;
    let env: Record<string, string>;
    let router: string; // where clients send traffic
    let ext: readonly string[];

    before(async () => {
      lab = await createLab({ egressLink: link });
      env = { EGRESS_SOURCE: lab.v4.source, EGRESS_GATEWAY: lab.v4.gateway };
      router = lab.v4.routerCluster;
      ext = lab.v4.external;
    });
    after(() => lab?.down());

    const stateless = async () => ({
      addresses: (await lab.exec("router", ["ip", "-4", "-br", "address", "show", "dev", dev]))
        .stdout,
      routes: (await lab.exec("router", ["ip", "-4", "route"])).stdout,
      rules: (await lab.exec("router", ["nft", "-s", "list", "ruleset"])).stdout,
    });

    it("init (OpenShift mode): address, routes, forwarding, announced to the gateway", async () => {
      // the gateway still believes the address lives at another MAC (the pod moved nodes)
      await lab.exec("gateway", [
        "ip",
        "neigh",
        "replace",
        lab.v4.source,
        "lladdr",
        bogusMac,
        "dev",
        "lan0",
        "nud",
        "stale",
      ]);
      const r = await runRouter(lab, [], {
        ...env,
        EGRESS_ROUTER_MODE: "init",
        EGRESS_DESTINATION: [
          "80 tcp 203.0.113.25",
          "8080 tcp 203.0.113.26 80",
          "514 udp 203.0.113.25",
          "38412 sctp 203.0.113.26",
          "203.0.113.27",
        ].join("\n"),
      });
      assert.equal(r.stderr, "");
      assert.equal(r.code, 0);
      assert.deepEqual(
        r.stdout.split("\n").filter((l) => l !== ""),
        [
          "egress-router: set net.ipv4.ip_forward=1 (was 0): DNAT-ed packets are forwarded to their destination; with forwarding off the kernel drops them",
          `egress-router: added 198.51.100.99/32 to ${dev}`,
          `egress-router: brought ${dev} up`,
          `egress-router: routes: 198.51.100.1 on ${dev}, default via 198.51.100.1 on ${dev}`,
          `egress-router: announced 198.51.100.99 on ${dev} (gratuitous ARP)`,
          `egress-router: NAT loaded (nft): 5 rules, SNAT to 198.51.100.99 on ${dev}`,
          `egress-router: announced 198.51.100.99 on ${dev} again, 2000 ms later`,
        ],
      );
      const s = await stateless();
      assert.match(s.addresses, new RegExp(`^${dev}@\\S+\\s+UP\\s+198\\.51\\.100\\.99/32\\s*$`));
      assert.match(s.routes, new RegExp(`^default via 198\\.51\\.100\\.1 dev ${dev} *$`, "m"));
      assert.match(s.routes, new RegExp(`^198\\.51\\.100\\.1 dev ${dev} scope link *$`, "m"));
      // cluster traffic keeps the cluster interface
      assert.match(
        s.routes,
        /^192\.0\.2\.0\/24 dev eth0 proto kernel scope link src 192\.0\.2\.2 *$/m,
      );
      assert.equal(
        (await lab.exec("router", ["cat", "/proc/sys/net/ipv4/ip_forward"])).stdout.trim(),
        "1",
      );
      const macs = await linkMacs(lab);
      const neigh = (await lab.exec("gateway", ["ip", "neigh", "show", lab.v4.source])).stdout;
      assert.match(neigh, new RegExp(`lladdr ${macs.egress}`), "the gateway learnt the new MAC");
      if (link === "ipvlan") {
        assert.equal(macs.egress, macs.parent, "ipvlan: the announcement carries the uplink's MAC");
      } else {
        assert.notEqual(macs.egress, macs.parent, "macvlan: a MAC address of its own");
      }
    });

    it("every rule form reaches the external server from the reserved source, and only from it", async () => {
      await lab.resetFirewall();
      const cases: {
        name: string;
        probe: () => Promise<ProbeResult>;
        local: string;
        localPort: number;
      }[] = [
        {
          name: "tcp port to the same port",
          probe: () => lab.probe("client", { protocol: "http", address: router, port: 80 }),
          local: ext[0] ?? "",
          localPort: 80,
        },
        {
          name: "tcp port to a remote port",
          probe: () => lab.probe("client", { protocol: "http", address: router, port: 8080 }),
          local: ext[1] ?? "",
          localPort: 80,
        },
        {
          name: "udp port",
          probe: () => lab.probe("client", { protocol: "udp", address: router, port: 514 }),
          local: ext[0] ?? "",
          localPort: 514,
        },
        {
          name: "fallback, tcp",
          probe: () => lab.probe("client", { protocol: "tcp", address: router, port: 7000 }),
          local: ext[2] ?? "",
          localPort: 7000,
        },
        {
          name: "fallback, udp",
          probe: () => lab.probe("client", { protocol: "udp", address: router, port: 9000 }),
          local: ext[2] ?? "",
          localPort: 9000,
        },
      ];
      for (const c of cases) {
        const r = await c.probe();
        assert.equal(r.outcome, "reply", `${c.name}: ${r.detail ?? ""}`);
        assert.equal(r.view?.peer, lab.v4.source, `${c.name}: the server saw ${r.view?.peer}`);
        assert.equal(`${r.view?.local}:${r.view?.localPort}`, `${c.local}:${c.localPort}`, c.name);
      }
      assert.deepEqual(await lab.firewall(), {
        admitted: cases.length,
        rejected: 0,
        rejectedSources: [],
      });
      // each rule counted its connections, by line
      const count = (
        await lab.exec("router", ["nft", "list", "chain", "ip", "egress_router", "count"])
      ).stdout;
      assert.match(count, /tcp dport 80 counter packets 1 bytes \d+ accept comment "line 1"/);
      assert.match(count, /ct state new counter packets 2 bytes \d+ accept comment "line 5"/);
    });

    it(`${link === "ipvlan" ? "adds no MAC address" : "adds its own MAC address"} to the node's uplink and the LAN`, async () => {
      const macs = await linkMacs(lab);
      // traffic out and back, so the LAN bridge learns whatever source MACs the router uses
      const r = await lab.probe("client", { protocol: "http", address: router, port: 80 });
      assert.equal(r.view?.peer, lab.v4.source, "the external side sees the reserved source");
      // the uplink's unicast address filter: what a NIC keeps in its MAC table
      const filter = await macs.parentUnicastFilter();
      // the MAC addresses the LAN's bridge learnt behind the node's uplink
      const learnt = await macs.learntOnLan();
      if (link === "ipvlan") {
        assert.deepEqual(filter, [], "ipvlan: nothing added to the uplink's MAC filter");
        assert.deepEqual(learnt, [macs.parent], "ipvlan: the LAN sees only the uplink's MAC");
      } else {
        assert.deepEqual(filter, [macs.egress], "macvlan: its MAC is added to the uplink's filter");
        assert.ok(
          learnt.includes(macs.egress),
          `macvlan: the LAN learnt ${macs.egress}: ${learnt.join(", ")}`,
        );
      }
    });

    it(
      "SCTP: a port rule and the fallback, through raw packets (no SCTP sockets needed)",
      { skip: sctpUnsupportedReason() ?? false },
      async () => {
        await lab.resetFirewall();
        const port = await lab.probeSctp("client", router, 38412);
        const fallback = await lab.probeSctp("client", router, 3868);
        assert.equal(
          `${port.view?.peer} ${port.view?.local}:${port.view?.localPort}`,
          `${lab.v4.source} ${ext[1]}:38412`,
        );
        assert.equal(
          `${fallback.view?.peer} ${fallback.view?.local}:${fallback.view?.localPort}`,
          `${lab.v4.source} ${ext[2]}:3868`,
        );
        assert.deepEqual(await lab.firewall(), { admitted: 2, rejected: 0, rejectedSources: [] });
      },
    );

    it("running again with the same settings changes nothing", async () => {
      const before = await stateless();
      const r = await runRouter(lab, ["redirect", "--no-wait"], {
        ...env,
        EGRESS_ROUTER_DEBUG: "1",
        EGRESS_DESTINATION: [
          "80 tcp 203.0.113.25",
          "8080 tcp 203.0.113.26 80",
          "514 udp 203.0.113.25",
          "38412 sctp 203.0.113.26",
          "203.0.113.27",
        ].join("\n"),
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout,
        [
          `egress-router: network already set up (198.51.100.99 on ${dev}, default via 198.51.100.1); left as it is`,
          `egress-router: NAT loaded (nft): 5 rules, SNAT to 198.51.100.99 on ${dev}`,
          "",
        ].join("\n"),
      );
      assert.deepEqual(await stateless(), before);
      // EGRESS_ROUTER_DEBUG traces every command, and the ruleset given to nft
      const trace = r.stderr.split("\n");
      assert.deepEqual(trace.slice(0, 3), [
        `+ ip -j address show dev ${dev}`,
        "+ ip -j -4 route get 198.51.100.1",
        "+ ip -j -4 route show default",
      ]);
      assert.ok(trace.includes("+ nft -f - <<EOF"), r.stderr);
      assert.ok(
        trace.includes(`  add rule ip nat postrouting oifname "${dev}" snat to 198.51.100.99`),
      );
    });

    it("without a fallback, other ports are refused at once: TCP reset, ICMP port unreachable", async () => {
      const r = await runRouter(lab, ["redirect", "--nat-only"], {
        ...env,
        EGRESS_DESTINATION: "80 tcp 203.0.113.25\n514 udp 203.0.113.25\n",
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        new RegExp(`: 2 rules, SNAT to 198\\.51\\.100\\.99 on ${dev}, other ports refused\\n$`),
      );
      await lab.resetFirewall();
      const tcp = await lab.probe("client", { protocol: "tcp", address: router, port: 7000 });
      const udp = await lab.probe("client", { protocol: "udp", address: router, port: 9000 });
      assert.deepEqual([tcp.outcome, tcp.detail], ["refused", "ECONNREFUSED"]);
      assert.deepEqual([udp.outcome, udp.detail], ["refused", "ECONNREFUSED"]);
      const input = (
        await lab.exec("router", ["nft", "list", "chain", "ip", "egress_router", "input"])
      ).stdout;
      assert.match(input, /meta l4proto tcp counter packets 1 bytes \d+ reject with tcp reset/);
      assert.match(input, /meta l4proto \{ udp, sctp \} counter packets 1 bytes \d+ reject/);
      if (sctpUnsupportedReason() === undefined) {
        const sctp = await lab.probeSctp("client", router, 3868, 1000);
        assert.equal(sctp.outcome, "timeout", "an SCTP packet to an unmapped port goes nowhere");
        const after = (
          await lab.exec("router", ["nft", "list", "chain", "ip", "egress_router", "input"])
        ).stdout;
        assert.match(after, /meta l4proto \{ udp, sctp \} counter packets 2 bytes \d+ reject/);
      }
      // the mapped ports still work, and nothing reached the outside but the reserved source
      const ok = await lab.probe("client", { protocol: "http", address: router, port: 80 });
      assert.equal(ok.view?.peer, lab.v4.source);
      assert.deepEqual(await lab.firewall(), { admitted: 1, rejected: 0, rejectedSources: [] });
    });

    it("a bad setting stops the router with one line naming the command and the fix", async () => {
      const r = await runRouter(lab, ["redirect", "--interface", "nosuch0", "--no-wait"], {
        ...env,
        EGRESS_DESTINATION: "80 tcp 203.0.113.25",
      });
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.equal(
        r.stderr,
        'Cannot run "ip -j address show dev nosuch0": exit code 1, stderr "Device "nosuch0" does not exist."\n',
      );
    });

    it("the firewall would catch a leak: without SNAT the client's own address is rejected", async () => {
      // the negative control: break the router on purpose, as a bug would
      await lab.exec("router", ["nft", "flush", "chain", "ip", "nat", "postrouting"]);
      await lab.resetFirewall();
      const r = await lab.probe("client", {
        protocol: "http",
        address: router,
        port: 80,
        timeoutMs: 500,
      });
      assert.notEqual(r.outcome, "reply");
      assert.deepEqual(await lab.firewall(), {
        admitted: 0,
        rejected: 1,
        rejectedSources: [lab.v4.client],
      });
    });
    for (const mode of ["http-proxy", "dns-proxy"] as const) {
      it(`EGRESS_ROUTER_MODE=${mode} (a proxy's init container): the network set up and announced, no NAT, nothing forwarded`, async () => {
        // as on a node the pod never ran on: no address, no routes, the gateway's cache wrong
        await lab.exec("router", ["ip", "-4", "address", "flush", "dev", dev]);
        await lab.exec("gateway", [
          "ip",
          "neigh",
          "replace",
          lab.v4.source,
          "lladdr",
          bogusMac,
          "dev",
          "lan0",
          "nud",
          "stale",
        ]);
        const nat = async () =>
          (await lab.exec("router", ["nft", "list", "table", "ip", "nat"])).stdout;
        const natBefore = await nat();
        const r = await runRouter(lab, [], { ...env, EGRESS_ROUTER_MODE: mode });
        assert.equal(r.stderr, "");
        assert.equal(r.code, 0);
        assert.deepEqual(r.stdout.split("\n").filter(Boolean), [
          `egress-router: added 198.51.100.99/32 to ${dev}`,
          `egress-router: routes: 198.51.100.1 on ${dev}, default via 198.51.100.1 on ${dev}`,
          `egress-router: announced 198.51.100.99 on ${dev} (gratuitous ARP)`,
          "egress-router: forwarding refused (nft): a proxy pod is nobody's gateway",
          `egress-router: announced 198.51.100.99 on ${dev} again, 2000 ms later`,
        ]);
        assert.equal(await nat(), natBefore, "the NAT rules are left as they were");
        const macs = await linkMacs(lab);
        const neigh = (await lab.exec("gateway", ["ip", "neigh", "show", lab.v4.source])).stdout;
        assert.match(
          neigh,
          new RegExp(`lladdr ${macs.egress}`),
          "the gateway learnt the MAC again",
        );
      });
    }
  });
}

// Redirect mode over IPv6 on the real kernel: ip6 nat, duplicate address detection, the
// kernel's unsolicited neighbour advertisement, every rule form, refusal.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Lab } from "../src/lab/lab.ts";
import { createLab } from "../src/lab/lab.ts";
import type { ProbeTarget } from "../src/lab/lab.ts";
import { defaultEgressInterface } from "../src/lab/topology.ts";
import { privilegedOver } from "./helpers/privileged.ts";
import { linkMacs } from "./helpers/wire.ts";
import { runRouter } from "./helpers/router.ts";

for (const link of ["macvlan", "ipvlan"] as const) {
  describe(`redirect mode on the real kernel (IPv6, nft, ${link})`, privilegedOver(link), () => {
    const dev = defaultEgressInterface(link);
    let lab: Lab;
    let env: Record<string, string>;
    before(async () => {
      lab = await createLab({ egressLink: link });
      env = { EGRESS_SOURCE: `${lab.v6.source}/64`, EGRESS_GATEWAY: lab.v6.gateway };
    });
    after(() => lab?.down());

    it("sets up the address after DAD, announces it, and redirects every rule form", async () => {
      await lab.exec("gateway", [
        "ip",
        "-6",
        "neigh",
        "replace",
        lab.v6.source,
        "lladdr",
        "02:00:00:00:00:01",
        "dev",
        "lan0",
        "nud",
        "stale",
      ]);
      const r = await runRouter(lab, ["redirect"], {
        ...env,
        EGRESS_DESTINATION: [
          "80 tcp 2001:db8:3::25",
          "8080 tcp 2001:db8:3::26 80",
          "514 udp 2001:db8:3::25",
          "2001:db8:3::27",
        ].join("\n"),
      });
      assert.equal(r.stderr, "");
      assert.equal(r.code, 0);
      assert.deepEqual(r.stdout.split("\n").filter(Boolean), [
        "egress-router: set net.ipv6.conf.all.forwarding=1 (was 0): DNAT-ed packets are forwarded to their destination; with forwarding off the kernel drops them",
        `egress-router: set net.ipv6.conf.${dev}.ndisc_notify=1 (was 0): announce the source address with an unsolicited neighbour advertisement once it is usable`,
        `egress-router: added 2001:db8:2::99/64 to ${dev}`,
        `egress-router: brought ${dev} up`,
        `egress-router: routes: 2001:db8:2::1 on ${dev}, default via 2001:db8:2::1 on ${dev}`,
        "egress-router: announced 2001:db8:2::99 (unsolicited neighbour advertisement, by the kernel)",
        `egress-router: NAT loaded (nft): 4 rules, SNAT to 2001:db8:2::99 on ${dev}`,
      ]);
      const addr = (await lab.exec("router", ["ip", "-6", "address", "show", "dev", dev])).stdout;
      assert.match(addr, /inet6 2001:db8:2::99\/64 scope global \n/, "usable: not tentative");
      const macs = await linkMacs(lab);
      const neigh = (await lab.exec("gateway", ["ip", "-6", "neigh", "show", lab.v6.source]))
        .stdout;
      assert.match(
        neigh,
        new RegExp(`lladdr ${macs.egress}`),
        "the kernel's advertisement updated the gateway",
      );
      // ipvlan: the advertisement carries the uplink's MAC (the interfaces share it)
      assert.equal(macs.egress === macs.parent, link === "ipvlan");

      await lab.resetFirewall();
      const to = lab.v6.routerCluster;
      const cases: [ProbeTarget, string][] = [
        [{ protocol: "http", address: to, port: 80 }, "2001:db8:3::25:80"],
        [{ protocol: "http", address: to, port: 8080 }, "2001:db8:3::26:80"],
        [{ protocol: "udp", address: to, port: 514 }, "2001:db8:3::25:514"],
        [{ protocol: "tcp", address: to, port: 7000 }, "2001:db8:3::27:7000"],
      ];
      for (const [target, seen] of cases) {
        const p = await lab.probe("client", target);
        assert.equal(p.outcome, "reply", `${target.protocol} ${target.port}: ${p.detail ?? ""}`);
        assert.equal(p.view?.peer, lab.v6.source);
        assert.equal(`${p.view?.local}:${p.view?.localPort}`, seen);
      }
      assert.deepEqual(await lab.firewall(), { admitted: 4, rejected: 0, rejectedSources: [] });
    });

    it("without a fallback, other ports are refused at once", async () => {
      const r = await runRouter(lab, ["redirect", "--nat-only"], {
        ...env,
        EGRESS_DESTINATION: "443 tcp 2001:db8:3::25",
      });
      assert.equal(r.code, 0, r.stderr);
      const to = lab.v6.routerCluster;
      const tcp = await lab.probe("client", { protocol: "tcp", address: to, port: 7000 });
      const udp = await lab.probe("client", { protocol: "udp", address: to, port: 9000 });
      assert.deepEqual([tcp.outcome, udp.outcome], ["refused", "refused"]);
      const ok = await lab.probe("client", { protocol: "tcp", address: to, port: 443 });
      assert.equal(ok.view?.peer, lab.v6.source);
      const ruleset = (await lab.exec("router", ["nft", "list", "ruleset"])).stdout;
      assert.match(ruleset, /table ip6 nat/);
      assert.doesNotMatch(ruleset, /table ip nat/, "an IPv6 router leaves IPv4 alone");
    });
  });
}

import assert from "node:assert/strict";
import { BlockList } from "node:net";
import { describe, it } from "node:test";
import { labBuildSteps } from "./build.ts";
import { labTopology, namespaceName, parseNamespaceName } from "./topology.ts";

describe("labTopology", () => {
  it("names every namespace erlab-<name>-<role>, and reads them back", () => {
    const t = labTopology("demo");
    assert.deepEqual(t.namespaces, {
      client: "erlab-demo-client",
      router: "erlab-demo-router",
      node: "erlab-demo-node",
      gateway: "erlab-demo-gateway",
      external: "erlab-demo-external",
      dns: "erlab-demo-dns",
    });
    assert.deepEqual(parseNamespaceName("erlab-t1x2-gateway"), { lab: "t1x2", role: "gateway" });
    assert.deepEqual(parseNamespaceName(namespaceName("a-b", "dns")), { lab: "a-b", role: "dns" });
    for (const other of ["erlab-demo", "erlab-demo-elsewhere", "cni-1234", "erlab--router"]) {
      assert.equal(parseNamespaceName(other), undefined, other);
    }
  });

  const bad = [
    {
      name: "Demo",
      options: {},
      message:
        'lab: Cannot use the name "Demo": it must be 1-24 lower-case letters, digits or "-", starting with a letter or digit; pick another with --name',
    },
    {
      name: "demo",
      options: { egressInterface: "a-very-long-interface" },
      message:
        'lab: Cannot use "a-very-long-interface" as the egress interface name: an interface name is 1-15 letters, digits, "_", "." or "-"; pick another',
    },
    {
      name: "demo",
      options: { egressInterface: "eth0" },
      message:
        'lab: Cannot use "eth0" as both the cluster and the egress interface; give them different names',
    },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} ${JSON.stringify(c.options)}`, () => {
      assert.throws(() => labTopology(c.name, c.options), { message: c.message });
    });
  }
});

describe("labBuildSteps", () => {
  // RFC 5737 and RFC 3849: the only ranges the lab may use
  const documentation = new BlockList();
  documentation.addSubnet("192.0.2.0", 24, "ipv4");
  documentation.addSubnet("198.51.100.0", 24, "ipv4");
  documentation.addSubnet("203.0.113.0", 24, "ipv4");
  documentation.addSubnet("2001:db8::", 32, "ipv6");

  for (const link of ["macvlan", "veth"] as const) {
    it(`${link}: creates every namespace first, and only documentation addresses`, () => {
      const t = labTopology("x", { egressLink: link });
      const steps = labBuildSteps(t);
      const adds = steps.filter((s) => s.argv[2] === "add" && s.argv[1] === "netns");
      assert.deepEqual(
        steps.slice(0, adds.length).map((s) => s.argv.at(-1)),
        Object.values(t.namespaces),
      );
      const addresses = steps
        .flatMap((s) => s.argv)
        .filter((a) => /^[\d.]+\/\d+$|^[0-9a-f:]+:[0-9a-f:]*\/\d+$/.test(a))
        .map((a) => a.split("/")[0] ?? "");
      assert.ok(addresses.length >= 14);
      for (const a of addresses) {
        assert.ok(documentation.check(a, a.includes(":") ? "ipv6" : "ipv4"), a);
      }
      // the egress interface ends up in the router namespace, without an address
      const text = steps.map((s) => s.argv.join(" ")).join("\n");
      assert.doesNotMatch(text, /address add \S+ dev macvlan0/);
      assert.match(
        text,
        link === "macvlan"
          ? /ip -n erlab-x-node link set macvlan0 netns erlab-x-router/
          : /ip link add macvlan0 netns erlab-x-router type veth peer name v-router netns erlab-x-gateway/,
      );
    });
  }

  it("loads the external firewall last, with the reserved sources", () => {
    const steps = labBuildSteps(labTopology("x"));
    const last = steps.at(-1);
    assert.deepEqual(last?.argv, ["ip", "netns", "exec", "erlab-x-external", "nft", "-f", "-"]);
    assert.match(last?.input ?? "", /ip saddr 198\.51\.100\.99 counter name "admitted" accept/);
    assert.match(last?.input ?? "", /ip6 saddr 2001:db8:2::99 counter name "admitted" accept/);
  });
});

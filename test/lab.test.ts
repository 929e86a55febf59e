// The lab itself, on the real kernel: its shape, its firewall, its DNS, its clean-up.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { createLab, destroyLab, listLabs, uniqueLabName } from "../src/lab/lab.ts";
import { listNamespaces } from "../src/lab/namespaces.ts";
import { createCommandRunner } from "../src/redirect/command-runner.ts";
import { privileged } from "./helpers/privileged.ts";

const runner = createCommandRunner({ env: process.env });

async function labNamespaces(name: string): Promise<string[]> {
  return (await listNamespaces(runner)).filter((ns) => ns.startsWith(`erlab-${name}-`));
}

describe("lab", privileged(), () => {
  it("builds every namespace, and the firewall admits only the reserved source", async (t) => {
    const lab = await createLab();
    t.after(() => lab.down());
    assert.deepEqual((await labNamespaces(lab.name)).sort(), Object.values(lab.namespaces).sort());

    // the egress interface is left as the SDN leaves it: down, no address
    const egress = await lab.exec("router", ["ip", "-br", "address", "show", "dev", "macvlan0"]);
    assert.match(egress.stdout, /^macvlan0@\S+\s+DOWN\s*$/m);

    // the gateway reaches the external server, but is not the reserved source: rejected, named
    await lab.resetFirewall();
    const refused = await lab.probe("gateway", {
      protocol: "tcp",
      address: lab.v4.external[0] ?? "",
      port: 7000,
    });
    assert.equal(refused.outcome, "refused");
    assert.deepEqual(await lab.firewall(), {
      admitted: 0,
      rejected: 1,
      rejectedSources: [lab.v4.gatewayOutside],
    });
    const refused6 = await lab.probe("gateway", {
      protocol: "udp",
      address: lab.v6.external[1] ?? "",
      port: 514,
    });
    assert.equal(refused6.outcome, "refused");
    assert.deepEqual((await lab.firewall()).rejectedSources, [
      lab.v6.gatewayOutside,
      lab.v4.gatewayOutside,
    ]);

    // the client pod has no way out but the router: the node does not forward
    const direct = await lab.probe("client", {
      protocol: "tcp",
      address: lab.v4.external[0] ?? "",
      port: 7000,
      timeoutMs: 300,
    });
    assert.notEqual(direct.outcome, "reply");
  });

  it("answers the external names from its DNS server, and changes them on request", async (t) => {
    const lab = await createLab({ egressLink: "veth" });
    t.after(() => lab.down());
    // ask the lab's DNS server from the gateway (the pods reach it only after network setup)
    const ask = async (name: string) => {
      const script = `const r = new (require("node:dns").promises.Resolver)();
        r.setServers([${JSON.stringify(lab.v4.dns)}]);
        r.resolve4(${JSON.stringify(name)}).then((a) => console.log(a.sort().join(",")), (e) => console.log(e.code));`;
      return (await lab.exec("gateway", [process.execPath, "-e", script])).stdout.trim();
    };
    assert.equal(await ask("pool.example.com"), "203.0.113.25,203.0.113.26");
    assert.equal(await ask("nosuch.example.com"), "ENOTFOUND");
    await lab.setDnsRecords([{ name: "api.example.com", addresses: ["203.0.113.27"] }]);
    assert.equal(await ask("api.example.com"), "203.0.113.27");
    assert.equal(await ask("pool.example.com"), "ENOTFOUND");
    // the pods get the lab's resolver
    assert.match(
      readFileSync(`/etc/netns/${lab.namespaces.router}/resolv.conf`, "utf8"),
      /^nameserver 203\.0\.113\.53$/m,
    );
  });

  it("removes a half-built lab, and refuses a name that is taken", async (t) => {
    const name = uniqueLabName("h");
    // a half-built lab: two namespaces and nothing else
    await runner.run(["ip", "netns", "add", `erlab-${name}-router`]);
    await runner.run(["ip", "netns", "add", `erlab-${name}-client`]);
    t.after(() => destroyLab(name));
    await assert.rejects(createLab({ name }), {
      message: `lab: Cannot build the lab "${name}": it already exists (erlab-${name}-client, erlab-${name}-router); run "egress-router lab down --name ${name}" first`,
    });
    const summary = (await listLabs()).find((l) => l.name === name);
    assert.deepEqual(summary, {
      name,
      namespaces: ["client", "router"],
      complete: false,
      secondRouter: false,
    });
    await destroyLab(name);
    assert.deepEqual(await labNamespaces(name), []);
  });

  it("cleans up when building fails half-way", async () => {
    const name = uniqueLabName("f");
    // the kernel refuses a second "lo" in the router namespace, after several steps ran
    await assert.rejects(createLab({ name, clusterInterface: "lo" }), {
      message: new RegExp(
        `^lab: Cannot build the lab "${name}": Cannot run "ip link add lo netns erlab-${name}-router .*File exists`,
      ),
    });
    assert.deepEqual(await labNamespaces(name), []);
    assert.equal(existsSync(`/run/egress-router-lab/${name}`), false);
  });
});

// The applier's decisions, without root: what it runs, in which order, and what it skips.
// The same commands run for real in test/redirect.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runNetworkSetup } from "./apply-network.ts";
import { memoryKernelSettings } from "./kernel-settings.ts";
import type { NetworkPlan } from "./plan.ts";
import { planRedirect } from "./plan.ts";
import { RecordingRunner } from "./recording-runner.ts";

const v4: NetworkPlan = planRedirect({
  source: { address: "198.51.100.99", prefixLength: 32, family: 4 },
  gateway: "198.51.100.1",
  rules: [],
  clusterInterface: "eth0",
  egressInterface: "macvlan0",
  nat: true,
}).network;

const v6: NetworkPlan = planRedirect({
  source: { address: "2001:db8:2::99", prefixLength: 64, family: 6 },
  gateway: "2001:db8:2::1",
  rules: [],
  clusterInterface: "eth0",
  egressInterface: "macvlan0",
  nat: true,
}).network;

const link = (flags: string[], addrs: object[]) =>
  JSON.stringify([{ ifname: "macvlan0", flags, addr_info: addrs }]);
const fresh = link(["BROADCAST", "MULTICAST"], []);
const done4 = link(["UP", "LOWER_UP"], [{ family: "inet", local: "198.51.100.99", prefixlen: 32 }]);

type LinkState = { link: string; routeGet?: string; defaults?: string };

function runnerFor(state: LinkState) {
  return new RecordingRunner(answerFor(state));
}

function answerFor(state: LinkState) {
  return (argv: readonly string[]) => {
    const line = argv.join(" ");
    if (line.startsWith("ip -j address show")) return { stdout: state.link };
    if (line.includes("route get")) {
      return state.routeGet === undefined
        ? { code: 2, stderr: "RTNETLINK answers: Network is unreachable" }
        : { stdout: state.routeGet };
    }
    if (line.includes("route show default")) return { stdout: state.defaults ?? "[]" };
    return undefined;
  };
}

describe("runNetworkSetup", () => {
  it("sets up a fresh interface in OpenShift's order and announces twice", async () => {
    const runner = runnerFor({ link: fresh });
    const kernel = memoryKernelSettings({ "net.ipv4.ip_forward": "0" });
    const log: string[] = [];
    const r = await runNetworkSetup(v4, {
      runner,
      kernel,
      log: (l) => log.push(l),
      announceAgainMs: 5,
    });
    await r.announced;
    assert.equal(r.alreadySetUp, false);
    assert.deepEqual(runner.lines(), [
      "ip -j address show dev macvlan0",
      "ip -j -4 route get 198.51.100.1",
      "ip -4 address replace 198.51.100.99/32 dev macvlan0",
      "ip link set dev macvlan0 up",
      "ip -j address show dev macvlan0",
      "ip -4 route replace 198.51.100.1/32 dev macvlan0",
      "ip -4 route replace default via 198.51.100.1 dev macvlan0",
      "arping -q -U -c 1 -I macvlan0 198.51.100.99",
      "arping -q -U -c 1 -I macvlan0 198.51.100.99",
    ]);
    assert.equal(kernel.values.get("net.ipv4.ip_forward"), "1");
    assert.match(
      log[0] ?? "",
      /^set net\.ipv4\.ip_forward=1 \(was 0\): DNAT-ed packets are forwarded/,
    );
    assert.equal(log.at(-1), "announced 198.51.100.99 on macvlan0 again, 5 ms later");
  });

  for (const plan of [v4, v6]) {
    it(`IPv${plan.family}: an interface without ARP (ipvlan L3 mode) is set up but not announced, and says why`, async () => {
      // as the kernel does it: an ipvlan in L3 mode gets NOARP only once it is up (arping
      // exits 2 on it); the address is there (no DAD on such an interface), the routes not yet
      const address = [{ local: plan.source.address, prefixlen: plan.source.prefixLength }];
      const state = { link: link(["BROADCAST", "MULTICAST"], address) };
      const answer = answerFor(state);
      const runner = new RecordingRunner((argv) => {
        if (argv.join(" ") === "ip link set dev macvlan0 up") {
          state.link = link(["BROADCAST", "MULTICAST", "NOARP", "UP", "LOWER_UP"], address);
        }
        return answer(argv);
      });
      const log: string[] = [];
      const r = await runNetworkSetup(plan, {
        runner,
        kernel: memoryKernelSettings(),
        log: (l) => log.push(l),
        announceAgainMs: 5,
        dadTimeoutMs: 50,
      });
      await r.announced;
      assert.ok(
        runner.lines().every((l) => !l.startsWith("arping")),
        runner.lines().join("\n"),
      );
      assert.ok(runner.lines().some((l) => l.includes("route replace default via")));
      assert.equal(
        log.at(-1),
        `not announced: macvlan0 does not use ARP or neighbour discovery (ipvlan L3 mode); the LAN must route ${plan.source.address} to this node`,
      );
    });
  }

  it("leaves a complete setup alone (a restarted pod): no change, no announcement", async () => {
    const runner = runnerFor({
      link: done4,
      routeGet: '[{"dst":"198.51.100.1","dev":"macvlan0"}]',
      defaults: '[{"dst":"default","gateway":"198.51.100.1","dev":"macvlan0"}]',
    });
    const kernel = memoryKernelSettings({ "net.ipv4.ip_forward": "1" });
    const r = await runNetworkSetup(v4, { runner, kernel });
    assert.equal(r.alreadySetUp, true);
    assert.deepEqual(r.changes, []);
    assert.deepEqual(runner.lines(), [
      "ip -j address show dev macvlan0",
      "ip -j -4 route get 198.51.100.1",
      "ip -j -4 route show default",
    ]);
  });

  it("completes a setup that stopped half-way (gateway route there, default route not)", async () => {
    const runner = runnerFor({
      link: done4,
      routeGet: '[{"dst":"198.51.100.1","dev":"macvlan0"}]',
      defaults: '[{"dst":"default","gateway":"192.0.2.1","dev":"eth0"}]',
    });
    const r = await runNetworkSetup(v4, {
      runner,
      kernel: memoryKernelSettings({ "net.ipv4.ip_forward": "1" }),
      announceAgainMs: 0,
    });
    await r.announced;
    assert.equal(r.alreadySetUp, false);
    assert.deepEqual(runner.lines().slice(3), [
      "ip -4 route replace 198.51.100.1/32 dev macvlan0",
      "ip -4 route replace default via 198.51.100.1 dev macvlan0",
      "arping -q -U -c 1 -I macvlan0 198.51.100.99",
      "arping -q -U -c 1 -I macvlan0 198.51.100.99",
    ]);
  });

  it("IPv6: turns on the kernel's announcement first, waits for DAD, no arping", async () => {
    let shows = 0;
    const runner = new RecordingRunner((argv) => {
      const line = argv.join(" ");
      if (line.startsWith("ip -j address show")) {
        shows++;
        if (shows === 1) return { stdout: fresh };
        const tentative = shows < 4;
        return { stdout: link(["UP"], [{ local: "2001:db8:2::99", prefixlen: 64, tentative }]) };
      }
      if (line.includes("route get")) return { code: 2 };
      return undefined;
    });
    const kernel = memoryKernelSettings();
    const r = await runNetworkSetup(v6, { runner, kernel });
    assert.equal(kernel.values.get("net.ipv6.conf.macvlan0.ndisc_notify"), "1");
    assert.equal(kernel.values.get("net.ipv6.conf.all.forwarding"), "1");
    assert.equal(shows, 4, "polled until the address was no longer tentative");
    assert.ok(!runner.lines().some((l) => l.startsWith("arping")));
    assert.ok(
      runner.lines().includes("ip -6 route replace default via 2001:db8:2::1 dev macvlan0"),
    );
    assert.match(r.changes.at(-1) ?? "", /unsolicited neighbour advertisement/);
  });

  it("IPv6: a duplicate address is an error naming the setting and the fix", async () => {
    let shows = 0;
    const runner = new RecordingRunner((argv) => {
      if (argv.join(" ").startsWith("ip -j address show")) {
        shows++;
        return {
          stdout:
            shows === 1
              ? fresh
              : link(
                  ["UP"],
                  [{ local: "2001:db8:2::99", prefixlen: 64, tentative: true, dadfailed: true }],
                ),
        };
      }
      return argv.includes("get") ? { code: 2 } : undefined;
    });
    await assert.rejects(runNetworkSetup(v6, { runner, kernel: memoryKernelSettings() }), {
      message:
        'EGRESS_SOURCE: Cannot use "2001:db8:2::99": another host on the egress network already has it (duplicate address detection failed); reserve an unused address for the router',
    });
  });

  it("a failed command stops the setup with the command, exit code, stderr and a hint", async () => {
    const runner = new RecordingRunner((argv) => {
      const line = argv.join(" ");
      if (line.startsWith("ip -j address show")) return { stdout: fresh };
      if (line.includes("route get")) return { code: 2 };
      if (line.includes("address replace"))
        return { code: 2, stderr: "RTNETLINK answers: Operation not permitted\n" };
      return undefined;
    });
    await assert.rejects(
      runNetworkSetup(v4, { runner, kernel: memoryKernelSettings({ "net.ipv4.ip_forward": "1" }) }),
      {
        name: "CommandError",
        message:
          'Cannot run "ip -4 address replace 198.51.100.99/32 dev macvlan0": exit code 2, stderr "RTNETLINK answers: Operation not permitted"; run as root, or give the container NET_ADMIN (privileged: true in OpenShift)',
      },
    );
    assert.ok(!runner.lines().some((l) => l.includes("route replace")), "stopped at the failure");
  });

  it("a missing egress interface is named", async () => {
    const runner = new RecordingRunner(() => ({
      code: 1,
      stderr: 'Device "macvlan0" does not exist.\n',
    }));
    await assert.rejects(runNetworkSetup(v4, { runner, kernel: memoryKernelSettings() }), {
      message:
        'Cannot run "ip -j address show dev macvlan0": exit code 1, stderr "Device "macvlan0" does not exist."',
    });
  });

  it("a failed second announcement is reported, never thrown", async () => {
    let arps = 0;
    const runner = new RecordingRunner((argv) => {
      const line = argv.join(" ");
      if (line.startsWith("ip -j address show")) return { stdout: fresh };
      if (line.includes("route get")) return { code: 2 };
      if (argv[0] === "arping")
        return ++arps === 2 ? { code: 2, stderr: "arping: interface is down" } : undefined;
      return undefined;
    });
    const log: string[] = [];
    const r = await runNetworkSetup(v4, {
      runner,
      kernel: memoryKernelSettings({ "net.ipv4.ip_forward": "1" }),
      log: (l) => log.push(l),
      announceAgainMs: 0,
    });
    await r.announced;
    assert.match(
      log.at(-1) ?? "",
      /^warning: the second announcement failed: Cannot run "arping .*exit code 2/,
    );
  });
});

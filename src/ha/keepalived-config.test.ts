import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readHaSettings } from "./ha-settings.ts";
import { parseKeepalivedEvent } from "./keepalived-events.ts";
import { renderKeepalivedConfig } from "./keepalived-config.ts";

const source = { address: "198.51.100.99", prefixLength: 32, family: 4 as const };
const base = { EGRESS_HA_ELECTION: "keepalived", EGRESS_HA_VRID: "42" };

function ha(env: Record<string, string>) {
  const r = readHaSettings({ ...base, ...env }, {}, source);
  assert.deepEqual(r.problems, []);
  assert.ok(r.settings);
  return r.settings;
}

function render(env: Record<string, string>): string {
  return renderKeepalivedConfig({
    ha: ha(env),
    source,
    egressInterface: "macvlan0",
    clusterInterface: "eth0",
    routerId: "router-a",
    fifo: "/run/ha/keepalived.fifo",
    faultFile: "/run/ha/fault",
  });
}

describe("keepalived configuration", () => {
  it("multicast over IPv6: a link-local virtual address, the source moved as excluded", () => {
    const text = render({ EGRESS_HA_CLUSTER_ADDRESS: "192.0.2.4/24" });
    assert.match(text, /virtual_ipaddress \{\n {4}fe80::5e00:2:2a\/64 dev macvlan0\n {2}\}/);
    // the cluster-side address is the holder's own, added only once NAT is in
    assert.match(
      text,
      /virtual_ipaddress_excluded \{\n {4}198\.51\.100\.99\/32 dev macvlan0\n {2}\}/,
    );
    assert.doesNotMatch(text, /192\.0\.2\.4/);
    assert.match(text, /advert_int 0\.1\n/);
    assert.match(text, /nopreempt/);
    assert.doesNotMatch(text, /unicast_peer/);
    assert.match(text, /vrrp_notify_fifo \/run\/ha\/keepalived\.fifo/);
    assert.match(text, /track_file \{\n {4}egress_router_fault/);
  });
  it("IPv4 unicast peers: the source is the virtual address itself", () => {
    const text = render({
      EGRESS_HA_PEERS: "198.51.100.11, 198.51.100.12",
      EGRESS_HA_PREEMPT: "1",
    });
    assert.match(text, /unicast_peer \{\n {4}198\.51\.100\.11\n {4}198\.51\.100\.12\n {2}\}/);
    assert.match(text, /virtual_ipaddress \{\n {4}198\.51\.100\.99\/32 dev macvlan0/);
    assert.doesNotMatch(text, /excluded|nopreempt/);
  });
});

describe("HA settings", () => {
  const cases: [string, Record<string, string>, string][] = [
    [
      "vrid required",
      { EGRESS_HA_VRID: "" },
      'EGRESS_HA_VRID: Cannot use "": keepalived election needs a virtual router id',
    ],
    [
      "vrid range",
      { EGRESS_HA_VRID: "256" },
      'EGRESS_HA_VRID: Cannot use "256": not a virtual router id',
    ],
    [
      "priority 255 reserved",
      { EGRESS_HA_PRIORITY: "255" },
      'EGRESS_HA_PRIORITY: Cannot use "255": not a VRRP priority',
    ],
    [
      "advert too fine",
      { EGRESS_HA_ADVERT_SECONDS: "0.005" },
      'EGRESS_HA_ADVERT_SECONDS: Cannot use "0.005"',
    ],
    [
      "peer not an address",
      { EGRESS_HA_PEERS: "router-b" },
      'EGRESS_HA_PEERS: Cannot use "router-b": not an IP address',
    ],
    [
      "mixed peer families",
      { EGRESS_HA_PEERS: "198.51.100.1 2001:db8::1" },
      "IPv4 and IPv6 peers mixed",
    ],
    [
      "unknown election",
      { EGRESS_HA_ELECTION: "raft" },
      'EGRESS_HA_ELECTION: Cannot use "raft": unknown election',
    ],
  ];
  for (const [name, env, message] of cases) {
    it(name, () => {
      const r = readHaSettings({ ...base, ...env }, {}, source);
      assert.equal(r.settings, undefined);
      assert.ok(
        r.problems.some((p) => p.message.startsWith(message) || p.message.includes(message)),
        JSON.stringify(r.problems),
      );
    });
  }
  it("defaults", () => {
    const s = ha({});
    assert.deepEqual(
      [s.priority, s.advertSeconds, s.preempt, s.addressLeaseSeconds],
      [100, 0.1, false, 3],
    );
  });
});

describe("keepalived FIFO events", () => {
  it("maps states to roles and ignores the rest", () => {
    assert.deepEqual(parseKeepalivedEvent('INSTANCE "egress_router" MASTER 150'), {
      instance: "egress_router",
      state: "MASTER",
      role: "holder",
      priority: 150,
    });
    assert.equal(parseKeepalivedEvent('INSTANCE "egress_router" FAULT 100')?.role, "fault");
    assert.equal(parseKeepalivedEvent('INSTANCE "egress_router" BACKUP 100')?.role, "standby");
    assert.equal(parseKeepalivedEvent('INSTANCE "x" MASTER_RX_LOWER_PRI 1'), undefined);
    assert.equal(parseKeepalivedEvent("garbage"), undefined);
  });
});

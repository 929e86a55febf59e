// Both renderers on the same named cases, pinned by golden files (test/golden/redirect/).
// Update after a deliberate change with: node --test --test-update-snapshots <this file>,
// and review the diff like code.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { renderUnitTestRules } from "./render-unit-test.ts";
import { planRedirect } from "./plan.ts";
import { caseInput, redirectCases } from "./redirect-cases.ts";
import {
  renderIptables,
  renderIptablesForwardGuard,
  renderIptablesStandby,
} from "./render-iptables.ts";
import {
  renderNft,
  renderNftForwardGuard,
  renderNftRemoval,
  renderNftStandby,
} from "./render-nft.ts";

const golden = (file: string) =>
  fileURLToPath(new URL(`../../test/golden/redirect/${file}`, import.meta.url));
const raw = { serializers: [(v: unknown) => v] };

function natOf(name: string) {
  const c = redirectCases.find((x) => x.name === name);
  assert.ok(c, name);
  const { nat } = planRedirect(caseInput(c));
  assert.ok(nat);
  return nat;
}

describe("renderNft and renderIptables: golden files", () => {
  for (const c of redirectCases) {
    it(c.name, (t) => {
      const nat = natOf(c.name);
      t.assert.fileSnapshot(renderNft(nat), golden(`${c.name}.nft`), raw);
      t.assert.fileSnapshot(renderIptables(nat), golden(`${c.name}.iptables`), raw);
    });
  }
});

describe("renderNft", () => {
  it("installs exactly OpenShift's add-rule lines, in order, among its own", () => {
    for (const c of redirectCases) {
      const input = caseInput(c);
      const nat = natOf(c.name);
      const nft = renderNft(nat).split("\n");
      const upstream = renderUnitTestRules(input.source, input.rules, {
        cluster: input.clusterInterface,
        egress: input.egressInterface,
      })
        .trimEnd()
        .split("\n");
      const positions = upstream.map((line) => nft.indexOf(line));
      assert.ok(
        positions.every((p) => p >= 0),
        `${c.name}: missing ${upstream.filter((_, i) => positions[i] === -1).join(" | ")}`,
      );
      assert.deepEqual(
        [...positions].sort((a, b) => a - b),
        positions,
        `${c.name}: order`,
      );
    }
  });

  it("is one transaction: tables declared, flushed and refilled, nothing deleted", () => {
    const text = renderNft(natOf("openshift-example"));
    assert.match(
      text,
      /^table ip nat \{\n\tchain prerouting \{\n\t\ttype nat hook prerouting priority dstnat; policy accept;/,
    );
    assert.ok(text.indexOf("flush table ip nat") < text.indexOf("add rule ip nat"));
    assert.ok(
      text.indexOf("flush table ip egress_router") < text.indexOf("add rule ip egress_router"),
    );
    assert.doesNotMatch(text, /delete/);
  });

  it("SNAT is the last NAT rule even when there are no rules", () => {
    const lines = renderNft(natOf("comments-only")).split("\n");
    const nat = lines.filter((l) => l.startsWith("add rule ip nat"));
    assert.deepEqual(nat, ['add rule ip nat postrouting oifname "macvlan0" snat to 198.51.100.99']);
  });

  it("refusal only without a fallback; the router's own ports stay open", () => {
    const refusing = renderNft(natOf("ports-only-refuse-the-rest"));
    assert.match(refusing, /input iifname "eth0" tcp dport 9090 accept\n.*reject with tcp reset/);
    const falling = renderNft(natOf("fallback-keeps-admin-port"));
    assert.doesNotMatch(falling, /add rule ip egress_router input/);
    assert.match(
      falling,
      /prerouting iifname "eth0" tcp dport \{ 9090, 9091 \} accept\nadd rule ip nat prerouting iifname "eth0" dnat to 203\.0\.113\.27\n/,
    );
  });

  it("IPv6 uses the ip6 tables and brackets an address with a port", () => {
    const text = renderNft(natOf("ipv6"));
    assert.match(
      text,
      /add rule ip6 nat prerouting iifname "eth0" tcp dport 8080 dnat to \[2001:db8:3::26\]:80\n/,
    );
    assert.match(text, /add rule ip6 nat postrouting oifname "macvlan0" snat to 2001:db8:2::99\n/);
    assert.doesNotMatch(text, /\bip nat\b/);
  });

  it("removal deletes both tables, and does not fail when they do not exist", () => {
    assert.equal(
      renderNftRemoval({ family: 4 }),
      "table ip nat\ndelete table ip nat\ntable ip egress_router\ndelete table ip egress_router\n",
    );
  });
});

describe("forward guard of the network-only modes", () => {
  it("nft: nothing forwarded, in our own table", () => {
    assert.equal(
      renderNftForwardGuard({ family: 6 }),
      [
        "table ip6 egress_router {",
        "\tchain forward {",
        "\t\ttype filter hook forward priority filter; policy accept;",
        "\t}",
        "}",
        "flush table ip6 egress_router",
        "add rule ip6 egress_router forward meta l4proto tcp counter reject with tcp reset",
        "add rule ip6 egress_router forward counter reject",
        "",
      ].join("\n"),
    );
  });
  it("iptables: the filter table with a rejecting FORWARD chain", () => {
    assert.match(
      renderIptablesForwardGuard({ family: 4 }),
      /^\*filter\n(:\w+ ACCEPT \[0:0\]\n){3}-A FORWARD -p tcp -j REJECT --reject-with tcp-reset\n-A FORWARD -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n$/,
    );
  });
});

describe("renderIptables", () => {
  it("uses ip6tables' ICMPv6 reject type and bracketed DNAT targets for IPv6", () => {
    const text = renderIptables(natOf("ipv6"));
    assert.match(text, /-j DNAT --to-destination \[2001:db8:3::26\]:80\n/);
    assert.match(text, /--reject-with icmp6-port-unreachable\n/);
    assert.doesNotMatch(text, /icmp-port-unreachable/);
  });
});

describe("standby rules of an active/standby replica", () => {
  it("nft: NAT chains kept empty, new cluster-side connections dropped, the admin port open", () => {
    assert.equal(
      renderNftStandby(natOf("ports-only-refuse-the-rest")),
      [
        "table ip nat {",
        "\tchain prerouting {",
        "\t\ttype nat hook prerouting priority dstnat; policy accept;",
        "\t}",
        "\tchain postrouting {",
        "\t\ttype nat hook postrouting priority srcnat; policy accept;",
        "\t}",
        "}",
        "flush table ip nat",
        "table ip egress_router {",
        "\tchain count {",
        "\t\ttype filter hook prerouting priority dstnat - 10; policy accept;",
        "\t}",
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy accept;",
        "\t}",
        "\tchain forward {",
        "\t\ttype filter hook forward priority filter; policy accept;",
        "\t}",
        "}",
        "flush table ip egress_router",
        'add rule ip egress_router input iifname "eth0" tcp dport 9090 accept',
        'add rule ip egress_router input iifname "eth0" ct state new meta l4proto { tcp, udp, sctp } counter drop',
        "add rule ip egress_router forward ct state established,related accept",
        'add rule ip egress_router forward iifname "eth0" ct state new counter drop',
        "add rule ip egress_router forward meta l4proto tcp counter reject with tcp reset",
        "add rule ip egress_router forward counter reject",
        "",
      ].join("\n"),
    );
  });

  it("nft: the same tables and chains as the holder's rules, so one load replaces the other", () => {
    for (const c of redirectCases) {
      const nat = natOf(c.name);
      const heads = (text: string) => text.split("\n").filter((l) => /^(table|\tchain) /.test(l));
      assert.deepEqual(heads(renderNftStandby(nat)), heads(renderNft(nat)), c.name);
      assert.doesNotMatch(renderNftStandby(nat), /dnat|snat|delete/, c.name);
    }
  });

  it("iptables: empty nat table, the same filtering", () => {
    assert.equal(
      renderIptablesStandby(natOf("ipv6")),
      [
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":INPUT ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
        "COMMIT",
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":FORWARD ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        "-A INPUT -i eth0 -p tcp -m tcp --dport 9090 -j ACCEPT",
        "-A INPUT -i eth0 -p tcp -m conntrack --ctstate NEW -j DROP",
        "-A INPUT -i eth0 -p udp -m conntrack --ctstate NEW -j DROP",
        "-A INPUT -i eth0 -p sctp -m conntrack --ctstate NEW -j DROP",
        "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A FORWARD -i eth0 -m conntrack --ctstate NEW -j DROP",
        "-A FORWARD -p tcp -j REJECT --reject-with tcp-reset",
        "-A FORWARD -j REJECT --reject-with icmp6-port-unreachable",
        "COMMIT",
        "",
      ].join("\n"),
    );
  });
});

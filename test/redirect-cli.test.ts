// `redirect` and `setup` through the real entry point, without root: --dry-run output is
// pinned by golden files (test/golden/cli/), and bad input gets one clear line.
// Update the golden files after a deliberate change: node --test --test-update-snapshots <this file>
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { runCli } from "./helpers/run-cli.ts";

const golden = (file: string) => fileURLToPath(new URL(`./golden/cli/${file}`, import.meta.url));
const raw = { serializers: [(v: unknown) => v] };

describe("egress-router redirect / setup --dry-run", () => {
  const cases: { name: string; args: string[]; env: Record<string, string> }[] = [
    {
      name: "redirect-dry-run-ipv4",
      args: ["redirect", "--dry-run"],
      env: {
        EGRESS_SOURCE: "198.51.100.99/24",
        EGRESS_GATEWAY: "198.51.100.1",
        EGRESS_DESTINATION: "80 tcp 203.0.113.25\n8080 tcp 203.0.113.26 80\n514 udp 203.0.113.25\n",
      },
    },
    {
      name: "redirect-dry-run-ipv6-iptables",
      args: ["redirect", "--dry-run", "--nat-backend", "iptables", "--interface", "net1"],
      env: {
        EGRESS_SOURCE: "2001:db8:2::99",
        EGRESS_GATEWAY: "2001:db8:2::1",
        EGRESS_DESTINATION: "443 tcp 2001:db8:3::25\n2001:db8:3::27\n",
      },
    },
    {
      name: "redirect-dry-run-nat-only",
      args: ["redirect", "--dry-run", "--nat-only", "--destination", "203.0.113.27"],
      env: { EGRESS_SOURCE: "198.51.100.99", EGRESS_GATEWAY: "198.51.100.1" },
    },
    {
      name: "setup-dry-run-ipv4",
      args: ["setup", "--dry-run", "--source", "198.51.100.99", "--gateway", "198.51.100.1"],
      env: {},
    },
  ];
  for (const c of cases) {
    it(c.name, async (t) => {
      const r = await runCli(c.args, c.env);
      assert.equal(r.stderr, "");
      assert.equal(r.code, 0);
      t.assert.fileSnapshot(r.stdout, golden(`${c.name}.txt`), raw);
    });
  }
});

describe("egress-router redirect: bad input", () => {
  const router = { EGRESS_SOURCE: "198.51.100.99", EGRESS_GATEWAY: "198.51.100.1" };
  const cases: {
    name: string;
    args: string[];
    env: Record<string, string>;
    code: number;
    stderr?: string;
    last?: string;
  }[] = [
    {
      name: "unknown NAT backend",
      args: ["redirect", "--dry-run", "--nat-backend", "pf"],
      env: { ...router, EGRESS_DESTINATION: "80 tcp 203.0.113.25" },
      code: 1,
      stderr: 'EGRESS_NAT_BACKEND: Cannot use "pf": use one of: nft, iptables\n',
    },
    {
      name: "rules missing",
      args: ["redirect", "--dry-run"],
      env: router,
      code: 1,
      last: "EGRESS_DESTINATION unspecified",
    },
    {
      name: "a family mismatch",
      args: ["redirect", "--dry-run", "--destination", "80 tcp 2001:db8:3::25"],
      env: router,
      code: 1,
      last: 'EGRESS_DESTINATION line 1: Cannot redirect to "2001:db8:3::25": it is IPv6 but EGRESS_SOURCE is IPv4, and NAT does not translate between families; use a destination of the source\'s family or run a second router',
    },
    {
      name: "an unknown flag",
      args: ["redirect", "--sauce", "x"],
      env: router,
      code: 2,
      last: "egress-router redirect: Unknown option '--sauce'; see egress-router redirect --help",
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await runCli(c.args, c.env);
      assert.equal(r.code, c.code);
      assert.equal(r.stdout, "");
      if (c.stderr !== undefined) assert.equal(r.stderr, c.stderr);
      if (c.last !== undefined) assert.equal(r.stderr.trimEnd().split("\n").at(-1), c.last);
    });
  }

  it("--help explains the rule forms and the options", async () => {
    const r = await runCli(["redirect", "--help"]);
    assert.equal(r.code, 0);
    for (const s of [
      "--dry-run",
      "--nat-only",
      "--remove",
      "--stay",
      "<port> <tcp|udp|sctp> <ip> <remote-port>",
      "nft list ruleset",
    ]) {
      assert.ok(r.stdout.includes(s), s);
    }
  });
});

// The command-line contract (spec/cli.md) and the OpenShift messages, through the real entry
// point with an environment as bare as the original image tests used (no PATH, no HOME).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createConfigMapDir } from "./helpers/configmap.ts";
import { runCli } from "./helpers/run-cli.ts";

const router = { EGRESS_SOURCE: "198.51.100.99", EGRESS_GATEWAY: "198.51.100.1" };
const specRules = "80 tcp 203.0.113.25\n8080 tcp 203.0.113.26 80\n203.0.113.27";

describe("OpenShift mode: unit-test prints the NAT rules exactly", () => {
  it("the spec's example, /N dropped from the source", async () => {
    const r = await runCli([], {
      ...router,
      EGRESS_SOURCE: "198.51.100.99/24",
      EGRESS_ROUTER_MODE: "unit-test",
      EGRESS_DESTINATION: specRules,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        'add rule ip nat prerouting iifname "eth0" tcp dport 80 dnat to 203.0.113.25',
        'add rule ip nat prerouting iifname "eth0" tcp dport 8080 dnat to 203.0.113.26:80',
        'add rule ip nat prerouting iifname "eth0" dnat to 203.0.113.27',
        'add rule ip nat postrouting oifname "macvlan0" snat to 198.51.100.99',
        "",
      ].join("\n"),
    );
    assert.equal(r.stderr, "");
  });

  it("only comments: the SNAT rule alone", async () => {
    const r = await runCli([], {
      ...router,
      EGRESS_ROUTER_MODE: "unit-test",
      EGRESS_DESTINATION: "# nothing\n",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      'add rule ip nat postrouting oifname "macvlan0" snat to 198.51.100.99\n',
    );
  });

  it("IPv6, udp and sctp, other interface names", async () => {
    const r = await runCli([], {
      EGRESS_SOURCE: "2001:db8:1::99/64",
      EGRESS_GATEWAY: "2001:db8:1::1",
      EGRESS_ROUTER_MODE: "unit-test",
      EGRESS_INTERFACE: "net1",
      EGRESS_DESTINATION: "53 udp 2001:db8:2::53\n3868 sctp 2001:db8:2::9 3869\n2001:db8:2::1",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        'add rule ip6 nat prerouting iifname "eth0" udp dport 53 dnat to 2001:db8:2::53',
        'add rule ip6 nat prerouting iifname "eth0" sctp dport 3868 dnat to [2001:db8:2::9]:3869',
        'add rule ip6 nat prerouting iifname "eth0" dnat to 2001:db8:2::1',
        'add rule ip6 nat postrouting oifname "net1" snat to 2001:db8:1::99',
        "",
      ].join("\n"),
    );
  });
});

describe("OpenShift mode: errors are one line, exit 1, checked in the original order", () => {
  const cases: [name: string, env: Record<string, string>, line: string][] = [
    ["no source", { EGRESS_ROUTER_MODE: "unit-test" }, "EGRESS_SOURCE unspecified or invalid"],
    [
      "bad source beats bad mode",
      { EGRESS_SOURCE: "x", EGRESS_GATEWAY: "y", EGRESS_ROUTER_MODE: "bogus" },
      "EGRESS_SOURCE unspecified or invalid",
    ],
    [
      "source /99",
      { ...router, EGRESS_SOURCE: "198.51.100.99/99", EGRESS_ROUTER_MODE: "unit-test" },
      "EGRESS_SOURCE unspecified or invalid",
    ],
    [
      "gateway with /N",
      { ...router, EGRESS_GATEWAY: "198.51.100.1/24", EGRESS_ROUTER_MODE: "unit-test" },
      "EGRESS_GATEWAY unspecified or invalid",
    ],
    [
      "no gateway",
      { EGRESS_SOURCE: "198.51.100.99", EGRESS_ROUTER_MODE: "unit-test" },
      "EGRESS_GATEWAY unspecified or invalid",
    ],
    [
      "unknown mode",
      { ...router, EGRESS_ROUTER_MODE: "Init" },
      "Unrecognized EGRESS_ROUTER_MODE 'Init'",
    ],
    [
      "no destination",
      { ...router, EGRESS_ROUTER_MODE: "unit-test" },
      "EGRESS_DESTINATION unspecified",
    ],
    [
      "invalid line",
      {
        ...router,
        EGRESS_ROUTER_MODE: "unit-test",
        EGRESS_DESTINATION: "80 tcp 203.0.113.1\n80 icmp 203.0.113.2",
      },
      "EGRESS_DESTINATION value '80 icmp 203.0.113.2' is invalid",
    ],
    [
      "legacy by EGRESS_SOURCE alone, no destination",
      { ...router },
      "EGRESS_DESTINATION unspecified",
    ],
    [
      "bad port",
      { ...router, EGRESS_ROUTER_MODE: "unit-test", EGRESS_DESTINATION: "0 tcp 203.0.113.1" },
      "Invalid port: 0, must be in the range 1 to 65535",
    ],
  ];
  for (const [name, env, line] of cases) {
    it(name, async () => {
      const r = await runCli([], env);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `${line}\n`);
      assert.equal(r.stdout, "");
    });
  }

  it("nothing set: usage on stderr, exit 2", async () => {
    const r = await runCli([], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^egress-router .*\n\nUsage:/);
  });
});

describe("OpenShift mode: the HTTP proxy image's unit-test prints the checked rules", () => {
  it("normalized rules, exit 0", async () => {
    const r = await runCli([], {
      EGRESS_HTTP_PROXY_MODE: "unit-test",
      EGRESS_HTTP_PROXY_DESTINATION: "A.Example.com\n!*.b.example.\n*",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "a.example.com\n!*.b.example\n*\n");
  });
  const errors: [string, Record<string, string>, string][] = [
    [
      "empty rules",
      { EGRESS_HTTP_PROXY_MODE: "unit-test", EGRESS_HTTP_PROXY_DESTINATION: "" },
      "No EGRESS_HTTP_PROXY_DESTINATION specified",
    ],
    [
      "wildcard not last",
      { EGRESS_HTTP_PROXY_MODE: "unit-test", EGRESS_HTTP_PROXY_DESTINATION: "*\nx.example" },
      "Wildcard must be last rule, if present",
    ],
    [
      "bad destination",
      { EGRESS_HTTP_PROXY_MODE: "unit-test", EGRESS_HTTP_PROXY_DESTINATION: "!!x" },
      "Bad destination '!x'",
    ],
  ];
  for (const [name, env, line] of errors) {
    it(name, async () => {
      const r = await runCli([], env);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `${line}\n`);
    });
  }
});

describe("check", () => {
  const dir = mkdtempSync(join(tmpdir(), "egress-router-check-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("prints the normalized rules and exits 0", async () => {
    const r = await runCli(["check"], {
      ...router,
      EGRESS_DESTINATION: "080   tcp 203.0.113.25\n# c\n203.0.113.27",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "# router: mode legacy, source 198.51.100.99/32 on macvlan0, gateway 198.51.100.1, traffic from eth0\n" +
        "# EGRESS_DESTINATION (EGRESS_DESTINATION): 2 rule(s)\n80 tcp 203.0.113.25\n203.0.113.27\n",
    );
  });

  it("reports every problem with its line, the first OpenShift message last", async () => {
    const r = await runCli(["check"], {
      ...router,
      EGRESS_DESTINATION: "80\ttcp 203.0.113.25\n90 tcp 203.0.113.26\r\n0 tcp 203.0.113.27",
      EGRESS_HTTP_PROXY_DESTINATION: "foo_bar.com",
      EGRESS_ADMIN_PORT: "http",
    });
    assert.equal(r.code, 1);
    const lines = r.stderr.trimEnd().split("\n");
    assert.deepEqual(lines, [
      'EGRESS_DESTINATION line 1: Cannot parse "80\\ttcp 203.0.113.25": a tab separates the fields; separate fields with spaces only (YAML block scalars often carry tabs)',
      'EGRESS_DESTINATION line 2: Cannot parse "90 tcp 203.0.113.26\\r": the line ends in a carriage return (Windows line endings); save the file with Unix (LF) line endings, e.g. dos2unix',
      "EGRESS_DESTINATION line 3: Cannot use local port 0: ports are 1 to 65535; pick a port in that range",
      'EGRESS_HTTP_PROXY_DESTINATION line 1: Cannot use "foo_bar.com": not a valid host name (letters, digits and "-" in dot-separated labels, no "_", no leading or trailing "-")',
      'EGRESS_ADMIN_PORT: Cannot use "http": not a port; use a number from 0 to 65535',
      "EGRESS_DESTINATION value '80\ttcp 203.0.113.25' is invalid",
    ]);
    assert.equal(r.stdout, "");
  });

  it("reads rules from files given by variable or flag; flags win", async () => {
    const good = join(dir, "good.txt");
    writeFileSync(good, "*.example.com\n!203.0.113.0/24\n");
    const envFile = await runCli(["check"], { EGRESS_HTTP_PROXY_DESTINATION_FILE: good });
    assert.equal(envFile.code, 0, envFile.stderr);
    assert.match(
      envFile.stdout,
      new RegExp(
        `^# EGRESS_HTTP_PROXY_DESTINATION \\(EGRESS_HTTP_PROXY_DESTINATION_FILE ${good}\\): 2 rule\\(s\\), first match wins; anything else is denied \\(no final \\*\\)\n\\*\\.example\\.com\n!203\\.0\\.113\\.0/24\n$`,
      ),
    );
    const flagWins = await runCli(["check", "--http-proxy-destination-file", good], {
      EGRESS_HTTP_PROXY_DESTINATION: "bad_name",
    });
    assert.equal(flagWins.code, 0, flagWins.stderr);
  });

  it("a missing file and a text-and-file conflict are named with the fix", async () => {
    const missing = await runCli(["check", "--dns-proxy-destination-file", join(dir, "nope")], {});
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^--dns-proxy-destination-file: Cannot read ".*nope": no such file; mount the file/,
    );
    const both = await runCli(["check"], {
      EGRESS_DESTINATION: "203.0.113.1",
      EGRESS_DESTINATION_FILE: join(dir, "good.txt"),
    });
    assert.equal(both.code, 1);
    assert.match(
      both.stderr,
      /EGRESS_DESTINATION: Cannot use both EGRESS_DESTINATION and EGRESS_DESTINATION_FILE/,
    );
  });

  it("refuses the HTTP proxy timeouts of 0 that the proxy refuses at start", async () => {
    const env = {
      EGRESS_HTTP_PROXY_DESTINATION: "*.example.com",
      EGRESS_HTTP_PROXY_IDLE_TIMEOUT: "0",
      EGRESS_HTTP_PROXY_CONNECT_TIMEOUT: "0.0",
      EGRESS_HTTP_PROXY_DNS_CACHE_SECONDS: "0",
      EGRESS_ADMIN_PORT: "0",
    };
    const fix = "a timeout of 0 would fail every request; use a positive duration, e.g. 30 or 30s";
    const checked = await runCli(["check"], env);
    assert.equal(checked.code, 1, checked.stdout);
    assert.deepEqual(checked.stderr.trimEnd().split("\n").slice(0, 2), [
      `EGRESS_HTTP_PROXY_IDLE_TIMEOUT: Cannot use "0": ${fix}`,
      `EGRESS_HTTP_PROXY_CONNECT_TIMEOUT: Cannot use "0.0": ${fix}`,
    ]);
    // The proxy itself says the same and does not start.
    const started = await runCli(["http-proxy", "--http-proxy-port", "1"], env);
    assert.equal(started.code, 1);
    assert.match(
      started.stderr,
      new RegExp(`EGRESS_HTTP_PROXY_IDLE_TIMEOUT: Cannot use "0": ${fix}`),
    );
  });

  it("the HTTP proxy's port on the admin server's port: both settings named, by check and at start", async () => {
    const env = { EGRESS_HTTP_PROXY_DESTINATION: "*.example.com", EGRESS_HTTP_PROXY_PORT: "9090" };
    const said =
      "EGRESS_HTTP_PROXY_PORT: Cannot listen on port 9090: the admin server (metrics, health) listens there (EGRESS_ADMIN_PORT=9090); set EGRESS_HTTP_PROXY_PORT or EGRESS_ADMIN_PORT to another port";
    const [checked, started, off] = await Promise.all([
      runCli(["check"], env),
      runCli(["http-proxy"], env),
      runCli(["check"], { ...env, EGRESS_ADMIN_PORT: "0" }),
    ]);
    assert.equal(checked.code, 1, checked.stdout);
    assert.equal(checked.stderr.trimEnd().split("\n")[0], said);
    assert.equal(started.code, 1, started.stdout);
    assert.equal(started.stderr.trimEnd().split("\n").at(-1), said);
    assert.equal(off.code, 0, off.stderr);
  });

  it("no settings: says so, exit 2", async () => {
    const r = await runCli(["check"], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no EGRESS_\* setting given/);
  });

  it("unknown flag: usage error, exit 2", async () => {
    const r = await runCli(["check", "--sauce", "x"], {});
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /egress-router check: Unknown option '--sauce'.*see egress-router check --help/,
    );
  });
});

describe("explain", () => {
  const cases: [name: string, args: string[], env: Record<string, string>, out: string][] = [
    [
      "redirect: mapped port",
      ["explain", "8080"],
      { EGRESS_DESTINATION: specRules },
      "redirect: tcp port 8080 goes to 203.0.113.26:80 (EGRESS_DESTINATION line 2)\n",
    ],
    [
      "redirect: fallback",
      ["explain", "53/udp"],
      { EGRESS_DESTINATION: specRules },
      "redirect: udp port 53 goes to 203.0.113.27:53 by the fallback (EGRESS_DESTINATION line 3)\n",
    ],
    [
      "redirect: refused",
      ["explain", "tcp/22"],
      { EGRESS_DESTINATION: "80 tcp 203.0.113.25" },
      "redirect: tcp port 22 is refused: no rule maps it and there is no fallback\n",
    ],
    [
      "redirect: other protocol",
      ["explain", "80/udp", "--destination", "80 tcp 203.0.113.25"],
      {},
      "redirect: udp port 80 is refused: no rule maps it and there is no fallback (line 1 maps port 80 for tcp only)\n",
    ],
    [
      "dns proxy: name",
      ["explain", "5432"],
      { EGRESS_DNS_PROXY_DESTINATION: "5432 db.example.com" },
      "dns-proxy: port 5432 forwards to db.example.com:5432, every address the name resolves to, re-resolved while running (EGRESS_DNS_PROXY_DESTINATION line 1)\n",
    ],
    [
      "dns proxy: IPv6",
      ["explain", "22"],
      { EGRESS_DNS_PROXY_DESTINATION: "22 2001:db8::7 2222" },
      "dns-proxy: port 22 forwards to [2001:db8::7]:2222 (EGRESS_DNS_PROXY_DESTINATION line 1)\n",
    ],
    [
      "dns proxy: no listener",
      ["explain", "1"],
      { EGRESS_DNS_PROXY_DESTINATION: "22 2001:db8::7" },
      "dns-proxy: port 1 has no listener (no EGRESS_DNS_PROXY_DESTINATION line uses it)\n",
    ],
  ];
  for (const [name, args, env, out] of cases) {
    it(name, async () => {
      const r = await runCli(args, env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, out);
    });
  }

  it("check and explain read the rules and settings of a ConfigMap directory, as the pod does", async (t) => {
    const cm = await createConfigMapDir({
      EGRESS_HTTP_PROXY_DESTINATION: "!*.internal.example.com\n*.example.com\n",
      EGRESS_HTTP_PROXY_CONNECT_PORTS: "443\n",
    });
    t.after(() => cm.remove());
    const env = { EGRESS_CONFIG_DIR: cm.dir };
    const checked = await runCli(["check"], env);
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(
      checked.stdout,
      /^# EGRESS_HTTP_PROXY_DESTINATION \(EGRESS_CONFIG_DIR .*\): 2 rule\(s\).*\n!\*\.internal\.example\.com\n\*\.example\.com\n/,
    );
    assert.match(checked.stdout, /^# EGRESS_HTTP_PROXY_CONNECT_PORTS=443$/m);
    const denied = await runCli(["explain", "db.internal.example.com:443"], env);
    assert.equal(denied.code, 0, denied.stderr);
    assert.match(denied.stdout, /is denied: domain-matched: rule line 1/);
    // the CONNECT ports of the directory apply, and --config-dir works as the variable does
    const port = await runCli(["explain", "www.example.com:22", "--config-dir", cm.dir], {});
    assert.equal(port.code, 0, port.stderr);
    assert.match(port.stdout, /is denied: port-not-allowed/);
    // a bad file in the directory is found by check, as the proxy would refuse it
    await cm.update({ EGRESS_HTTP_PROXY_DESTINATION: "foo_bar.com\n" });
    const bad = await runCli(["check"], env);
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(bad.stderr, /^EGRESS_HTTP_PROXY_DESTINATION line 1: Cannot use "foo_bar\.com"/);
  });

  it("bad rules: the problems, exit 1", async () => {
    const r = await runCli(["explain", "80"], { EGRESS_DESTINATION: "80 tcp nowhere" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /EGRESS_DESTINATION line 1: Cannot parse "80 tcp nowhere"/);
  });
});

describe("--help", () => {
  it("lists commands, and every command has real help", async () => {
    const top = await runCli(["--help"], {});
    assert.equal(top.code, 0);
    const section = /\nCommands:\n([\s\S]*?)\n\n/.exec(top.stdout)?.[1] ?? "";
    const names = [...section.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1] ?? "");
    assert.ok(names.includes("check") && names.includes("explain"), top.stdout);
    for (const name of names) {
      const r = await runCli([name, "--help"], {});
      assert.equal(r.code, 0, `${name} --help`);
      assert.match(
        r.stdout,
        new RegExp(`^Usage: egress-router ${name}`),
        `${name} --help starts with its usage`,
      );
      assert.ok(r.stdout.length > 200, `${name} --help says more than a line`);
    }
  });

  it("unknown command: exit 2 with a pointer to --help", async () => {
    const r = await runCli(["frobnicate"], {});
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'egress-router: unknown command "frobnicate"; run egress-router --help\n',
    );
  });
});

// `egress-router manifests`: golden files pin the YAML for each mode and network flavour
// (review their diffs like code; regenerate with UPDATE_GOLDEN=1 npm test), and every generated
// object passes the Kubernetes schemas (test/helpers/kubernetes-schema.ts: the substitute for an
// API server). The goldens run the command in-process (the same function bin/egress-router runs;
// a process each would make this file slow); the contract of the entry point itself (stdin, exit
// codes, stderr) is checked through bin/egress-router with a bare environment.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { schemaErrors } from "./helpers/kubernetes-schema.ts";
import { generateManifests } from "../src/cli/manifests.ts";
import { runCli } from "./helpers/run-cli.ts";

const golden = fileURLToPath(new URL("golden/manifests/", import.meta.url));
const fixtures = fileURLToPath(new URL("fixtures/", import.meta.url));
const update = process.env["UPDATE_GOLDEN"] === "1";
const image = ["--image", "registry.example.com/egress-router:0.1.0"];
const v4 = { EGRESS_SOURCE: "192.0.2.99/24", EGRESS_GATEWAY: "192.0.2.1" };
const tmp = mkdtempSync(join(tmpdir(), "egress-router-manifests-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const dnsRules = join(tmp, "dns-proxy-rules");
writeFileSync(
  dnsRules,
  "# databases\n5432 db.example.com\n53 203.0.113.53\n8443 203.0.113.7 443\n",
);

interface Case {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly kinds: readonly string[];
}
const sdnKinds = ["ServiceAccount", "ConfigMap", "Deployment", "Service", "NetworkPolicy"];
const multusKinds = ["ServiceAccount", "NetworkAttachmentDefinition", ...sdnKinds.slice(1)];
/** an active/standby set adds its PodDisruptionBudget after the Deployment */
const withBudget = (kinds: string[]) => [
  ...kinds.slice(0, kinds.indexOf("Deployment") + 1),
  "PodDisruptionBudget",
  ...kinds.slice(kinds.indexOf("Deployment") + 1),
];
const multus = ["--network", "multus", "--macvlan-master", "eth1"];
const cases: Case[] = [
  {
    file: "redirect-openshift-sdn.yaml",
    args: [...image, "-n", "payments", "--allow-from", "shop/app=checkout"],
    env: {
      ...v4,
      EGRESS_DESTINATION:
        "80 tcp 203.0.113.25\n8080 tcp 203.0.113.26 80\n53 udp 203.0.113.53\n203.0.113.27\n",
    },
    kinds: sdnKinds,
  },
  {
    file: "redirect-multus.yaml",
    args: [
      ...image,
      "-n",
      "payments",
      ...multus,
      "--macvlan-mode",
      "private",
      "--destination",
      "443 tcp 203.0.113.25\n3868 sctp 203.0.113.9 3869",
    ],
    env: { ...v4, EGRESS_ROUTER_DEBUG: "1" },
    kinds: multusKinds,
  },
  {
    file: "http-proxy-openshift-sdn.yaml",
    args: [
      ...image,
      "--name",
      "egress-http",
      "-n",
      "payments",
      "--macvlan-master",
      "eth1",
      "--allow-metrics-from",
      "monitoring",
    ],
    env: { ...v4, EGRESS_HTTP_PROXY_DESTINATION: "*.example.com\n!10.0.0.0/8\n203.0.113.0/24\n" },
    kinds: sdnKinds,
  },
  {
    file: "http-proxy-multus.yaml",
    args: [
      ...image,
      "--name",
      "egress-http",
      "-n",
      "payments",
      ...multus,
      "--node-selector",
      "node-role.kubernetes.io/egress=true",
      "--label",
      "team=payments",
    ],
    env: {
      EGRESS_SOURCE: "2001:db8:1::99/64",
      EGRESS_GATEWAY: "2001:db8:1::1",
      EGRESS_HTTP_PROXY_DESTINATION: "*\n",
      EGRESS_DRAIN_SECONDS: "120",
    },
    kinds: multusKinds,
  },
  {
    file: "dns-proxy-openshift-sdn.yaml",
    args: [...image, "--name", "egress-dns", "-n", "payments", "--allow-from", "*/egress=dns"],
    env: { ...v4, EGRESS_DNS_PROXY_DESTINATION_FILE: dnsRules, EGRESS_DNS_PROXY_DEBUG: "1" },
    kinds: sdnKinds,
  },
  {
    file: "dns-proxy-multus.yaml",
    args: [
      ...image,
      "--name",
      "egress-dns",
      "-n",
      "payments",
      ...multus,
      "--interface",
      "egress0",
      "--image-pull-secret",
      "regcred",
      "--memory-limit",
      "none",
    ],
    env: { ...v4, EGRESS_DNS_PROXY_DESTINATION: "5432 db.example.com\n" },
    kinds: multusKinds,
  },
  {
    file: "redirect-multus-ipvlan.yaml",
    args: [
      ...image,
      "-n",
      "payments",
      "--network",
      "multus",
      "--interface-type",
      "ipvlan",
      "--master",
      "ens192",
      "--interface",
      "egress0",
    ],
    env: { ...v4, EGRESS_DESTINATION: "443 tcp 203.0.113.25\n" },
    kinds: multusKinds,
  },
  {
    file: "redirect-ha-openshift-sdn.yaml",
    args: [...image, "-n", "payments", "--replicas", "2", "--node-selector", "egress=true"],
    env: {
      ...v4,
      EGRESS_DESTINATION: "80 tcp 203.0.113.25\n443 tcp 203.0.113.25\n",
      EGRESS_HA_VRID: "42",
    },
    kinds: withBudget(sdnKinds),
  },
  {
    file: "redirect-ha-multus.yaml",
    args: [...image, "-n", "payments", ...multus, "--replicas", "3"],
    env: {
      ...v4,
      EGRESS_DESTINATION: "443 tcp 203.0.113.25\n",
      EGRESS_HA_VRID: "42",
      EGRESS_HA_ADVERT_SECONDS: "0.2",
    },
    kinds: withBudget(multusKinds),
  },
  {
    file: "egressrouter-multus.yaml",
    args: [...image, "-f", join(fixtures, "egressrouter-redirect.yaml")],
    env: {},
    kinds: multusKinds,
  },
  {
    file: "egressrouter-openshift-sdn.yaml",
    args: [...image, "-f", "-", "--network", "openshift-sdn", "--namespace", "egress"],
    env: {},
    kinds: sdnKinds,
  },
];
const sdnInput = readFileSync(join(fixtures, "egressrouter-redirect.yaml"), "utf8")
  .replace("    - ip: 192.168.12.100/24\n", "")
  .replace("      mode: Private\n", "      mode: Bridge\n");

describe("golden manifests: each mode and network flavour", () => {
  for (const c of cases) {
    it(c.file, async () => {
      const r = c.args.includes("-")
        ? await runCli(["manifests", ...c.args], c.env, { input: sdnInput })
        : { code: 0, stderr: "", stdout: generateManifests(c.args, c.env) };
      assert.equal(r.stderr, "");
      assert.equal(r.code, 0);
      const path = join(golden, c.file);
      if (update) writeFileSync(path, r.stdout);
      assert.equal(
        r.stdout,
        readFileSync(path, "utf8"),
        `${c.file} differs; review, then UPDATE_GOLDEN=1`,
      );
      const docs = parseAllDocuments(r.stdout);
      assert.ok(Array.isArray(docs));
      const objects = docs.map((d) => d.toJS() as { kind: string });
      assert.deepEqual(
        objects.map((o) => o.kind),
        c.kinds,
      );
      for (const o of objects) assert.deepEqual(schemaErrors(o), [], o.kind);
    });
  }
});

describe(
  "manifests refuses bad input: one line per problem, exit 1 or 2",
  { concurrency: 4 },
  () => {
    const cases: [string, string[], Record<string, string>, number, string][] = [
      [
        "no image",
        ["--destination", "80 tcp 203.0.113.25"],
        v4,
        1,
        "--image: Cannot generate a Deployment without an image: no public registry holds it; build and push the image (docs/kubernetes.md), then pass --image registry.example.com/egress-router:<version>\n",
      ],
      [
        "an unreadable EgressRouter file",
        [...image, "-f", join(tmp, "missing.yaml")],
        {},
        1,
        `--file: Cannot read "${join(tmp, "missing.yaml")}": no such file; pass the path of an EgressRouter YAML file, or - for stdin\n`,
      ],
      [
        "an unreadable rules file",
        [...image],
        { ...v4, EGRESS_DESTINATION_FILE: join(tmp, "missing") },
        1,
        `EGRESS_DESTINATION_FILE: Cannot read "${join(tmp, "missing")}": no such file; mount the file (e.g. the ConfigMap volume) or set EGRESS_DESTINATION directly\n`,
      ],
      [
        "an unknown flag",
        [...image, "--replica", "2"],
        v4,
        2,
        "egress-router manifests: Unknown option '--replica'; see egress-router manifests --help\n",
      ],
      [
        "an EgressRouter with a second address, for two replicas",
        [...image, "-f", join(fixtures, "egressrouter-redirect.yaml"), "--replicas", "2"],
        { EGRESS_HA_VRID: "42" },
        1,
        "spec.addresses: Cannot give 2 replicas the same 1 extra address: only the source address moves with the holder, and a static address on every replica would be on the LAN 2 times; keep only spec.addresses[0], or use --replicas 1\n",
      ],
      [
        "two replicas of an HTTP proxy",
        [...image, "--replicas", "2"],
        { ...v4, EGRESS_HTTP_PROXY_DESTINATION: "*" },
        1,
        "--replicas: Cannot run 2 replicas of an HTTP proxy: only redirect mode has an active/standby form (egress-router ha run, docs/ha.md); use --replicas 1\n",
      ],
      [
        "a bad rule: our message, then the OpenShift one last",
        [...image],
        { ...v4, EGRESS_DESTINATION: "80 tcp 203.0.113.25\n80 udp 203.0.113.26" },
        1,
        "EGRESS_DESTINATION line 2: Cannot redirect local port 80 again: line 1 already uses it (whatever the protocol); use another local port\nEGRESS_DESTINATION localport 80 is already used, must be unique for each destination\n",
      ],
    ];
    for (const [name, args, env, code, stderr] of cases) {
      it(name, async () => {
        const r = await runCli(["manifests", ...args], env);
        assert.equal(r.stdout, "");
        assert.equal(r.stderr, stderr);
        assert.equal(r.code, code);
      });
    }

    it("--help describes the command", async () => {
      const r = await runCli(["manifests", "--help"]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^Usage: egress-router manifests \[options\] \[settings flags\]\n/);
      assert.match(r.stdout, /\n {2}-f, --file <path> /);
    });
  },
);

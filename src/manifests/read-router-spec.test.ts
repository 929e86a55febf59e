// Settings and options into a RouterSpec: every refusal names the setting or flag, the value
// and the fix. The rules go through the router's own grammars, so their messages are the
// router's; the rest are the manifests command's own.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { trySpec, v4 } from "../../test/helpers/router-specs.ts";

const redirect = { ...v4, EGRESS_DESTINATION: "80 tcp 203.0.113.25" };
const http = { ...v4, EGRESS_HTTP_PROXY_DESTINATION: "*" };
const er = `apiVersion: network.operator.openshift.io/v1
kind: EgressRouter
metadata:
  name: Egress_1
  namespace: payments
  labels: {app.kubernetes.io/name: x}
spec:
  addresses:
    - ip: 192.0.2.99/24
      gateway: 192.0.2.1
    - ip: 192.0.2.100/24
  redirect:
    fallbackIP: 203.0.113.27
`;
type Args = [Record<string, string>, Record<string, string | string[]>, string?];

const cases: { name: string; args: Args; messages: string[] }[] = [
  {
    name: "no rules setting at all",
    args: [v4, {}],
    messages: [
      "manifests: Cannot tell which router to generate: no rules are given; set one of EGRESS_DESTINATION (redirect), EGRESS_HTTP_PROXY_DESTINATION (HTTP proxy) or EGRESS_DNS_PROXY_DESTINATION (DNS proxy), as a variable, a flag or a file, or pass an EgressRouter with -f",
    ],
  },
  {
    name: "two rules settings: one router runs one mode",
    args: [{ ...redirect, EGRESS_HTTP_PROXY_DESTINATION: "*" }, {}],
    messages: [
      "manifests: Cannot generate one router from EGRESS_DESTINATION and EGRESS_HTTP_PROXY_DESTINATION: each router runs one mode; keep one of them, or run manifests once per router with a different --name",
    ],
  },
  {
    name: "EGRESS_ROUTER_MODE=unit-test only prints",
    args: [{ ...redirect, EGRESS_ROUTER_MODE: "unit-test" }, {}],
    messages: [
      'EGRESS_ROUTER_MODE: Cannot generate manifests for mode "unit-test": unit-test only prints rules; use legacy/init (redirect), http-proxy or dns-proxy, or leave it unset and give one rules setting',
    ],
  },
  {
    name: "a rule line the grammar rejects (the router's own message)",
    args: [{ ...v4, EGRESS_DESTINATION: "80 tcp\t1.2.3.4" }, {}],
    messages: [
      'EGRESS_DESTINATION line 1: Cannot parse "80 tcp\\t1.2.3.4": a tab separates the fields; separate fields with spaces only (YAML block scalars often carry tabs)',
    ],
  },
  {
    name: "no source, no gateway",
    args: [{ EGRESS_DESTINATION: "80 tcp 203.0.113.25" }, {}],
    messages: [
      "EGRESS_SOURCE: Cannot set up the egress address: it is not set; set it to the reserved source IP, e.g. EGRESS_SOURCE=192.0.2.99 (or 192.0.2.99/24)",
      "EGRESS_GATEWAY: Cannot route egress traffic: it is not set; set it to the next hop on the egress network, e.g. 192.0.2.1",
    ],
  },
  {
    name: "an IPv6 destination from an IPv4 source",
    args: [{ ...v4, EGRESS_DESTINATION: "80 tcp 2001:db8::1" }, {}],
    messages: [
      'EGRESS_DESTINATION line 1: Cannot redirect to "2001:db8::1": it is IPv6 but EGRESS_SOURCE is IPv4, and NAT does not translate between families; use a destination of the source\'s family or run a second router',
    ],
  },
  {
    name: "a redirect-only setting for an HTTP proxy",
    args: [{ ...http, EGRESS_NAT_BACKEND: "nft" }, {}],
    messages: [
      "EGRESS_NAT_BACKEND: Cannot use it for an HTTP proxy: it only applies to a redirect router; unset it",
    ],
  },
  {
    name: "a DNS-proxy-only setting for an HTTP proxy",
    args: [{ ...http, EGRESS_DNS_PROXY_DEBUG: "1" }, {}],
    messages: [
      "EGRESS_DNS_PROXY_DEBUG: Cannot use it for an HTTP proxy: it only applies to a DNS proxy; unset it",
    ],
  },
  {
    name: "EGRESS_HTTP_PROXY_MODE (it only printed rules)",
    args: [{ ...http, EGRESS_HTTP_PROXY_MODE: "unit-test" }, {}],
    messages: [
      'EGRESS_HTTP_PROXY_MODE: Cannot deploy "unit-test": it only printed rules in the OpenShift image (egress-router check does that now); unset it',
    ],
  },
  {
    name: "the admin server off: the probes need it",
    args: [{ ...http, EGRESS_ADMIN_PORT: "0" }, {}],
    messages: [
      'EGRESS_ADMIN_PORT: Cannot deploy with the admin server off ("0"): the readiness and liveness probes use it; use a port such as 9090',
    ],
  },
  {
    name: "the admin port is a DNS-proxy rule port",
    args: [{ ...v4, EGRESS_DNS_PROXY_DESTINATION: "9090 db.example.com" }, {}],
    messages: [
      'EGRESS_ADMIN_PORT: Cannot use port "9090" for the admin server: the rules use it for TCP traffic (EGRESS_DNS_PROXY_DESTINATION); choose another EGRESS_ADMIN_PORT or another rule port',
    ],
  },
  {
    name: "the admin port is the HTTP proxy's port",
    args: [{ ...http, EGRESS_HTTP_PROXY_PORT: "9090" }, {}],
    messages: [
      'EGRESS_ADMIN_PORT: Cannot use port "9090" for the admin server: the rules use it for TCP traffic (EGRESS_HTTP_PROXY_DESTINATION); choose another EGRESS_ADMIN_PORT or another rule port',
    ],
  },
  {
    name: "a bad admin port, reported once",
    args: [{ ...http, EGRESS_ADMIN_PORT: "http" }, {}],
    messages: ['EGRESS_ADMIN_PORT: Cannot use "http": not a port; use a number from 0 to 65535'],
  },
  {
    name: "a bad drain time, reported once",
    args: [{ ...http, EGRESS_DRAIN_SECONDS: "soon" }, {}],
    messages: [
      'EGRESS_DRAIN_SECONDS: Cannot use "soon": not a number of seconds; use e.g. 30 or 0.5',
    ],
  },
  {
    name: "another interface name with the SDN",
    args: [{ ...redirect, EGRESS_INTERFACE: "net1" }, {}],
    messages: [
      'EGRESS_INTERFACE: Cannot use "net1" with --network openshift-sdn: the SDN always names the interface macvlan0; unset EGRESS_INTERFACE, or use --network multus',
    ],
  },
  {
    name: "a macvlan mode with the SDN",
    args: [redirect, { "macvlan-mode": "private" }],
    messages: [
      '--macvlan-mode: Cannot use macvlan mode "private" with --network openshift-sdn: the SDN creates macvlan0 itself and takes no mode; drop the mode, or use --network multus',
    ],
  },
  {
    name: "an unknown network flavour",
    args: [redirect, { network: "calico" }],
    messages: [
      '--network: Cannot attach the router with "calico": use openshift-sdn (the pod.network.openshift.io/assign-macvlan annotation) or multus (a NetworkAttachmentDefinition)',
    ],
  },
  {
    name: "an unknown macvlan mode",
    args: [redirect, { network: "multus", "macvlan-mode": "bridged" }],
    messages: [
      '--macvlan-mode: Cannot use macvlan mode "bridged": use one of bridge, private, vepa, passthru',
    ],
  },
  {
    name: "ipvlan with the SDN (which only makes macvlan0)",
    args: [redirect, { "interface-type": "ipvlan" }],
    messages: [
      '--interface-type: Cannot use "ipvlan" with --network openshift-sdn: the SDN always creates a macvlan (macvlan0); use --network multus for an ipvlan interface',
    ],
  },
  {
    name: "an unknown interface type, and an unknown ipvlan mode",
    args: [redirect, { network: "multus", "interface-type": "bond", "ipvlan-mode": "l4" }],
    messages: [
      '--interface-type: Cannot create an interface of type "bond": use macvlan (a MAC address of its own) or ipvlan (the node\'s MAC address; docs/networks.md)',
      '--ipvlan-mode: Cannot use ipvlan mode "l4": use one of l2, l3, l3s',
    ],
  },
  {
    name: "an ipvlan mode for a macvlan, and a macvlan mode for an ipvlan",
    args: [redirect, { network: "multus", "ipvlan-mode": "l3" }],
    messages: [
      '--ipvlan-mode: Cannot use ipvlan mode "l3" with a macvlan interface: add --interface-type ipvlan, or drop the mode',
    ],
  },
  {
    name: "a macvlan mode for an ipvlan",
    args: [redirect, { network: "multus", "interface-type": "ipvlan", "macvlan-mode": "vepa" }],
    messages: [
      '--macvlan-mode: Cannot use macvlan mode "vepa" with --interface-type ipvlan: an ipvlan interface takes --ipvlan-mode (l2, l3, l3s); drop the macvlan mode',
    ],
  },
  {
    name: "--master and --macvlan-master that disagree",
    args: [redirect, { network: "multus", master: "eth1", "macvlan-master": "eth2" }],
    messages: [
      '--master: Cannot use parent interface "eth1": --macvlan-master says "eth2"; they name the same thing, give one',
    ],
  },
  {
    name: "a parent interface that is no interface name",
    args: [redirect, { "macvlan-master": "eth0:1" }],
    messages: [
      "--macvlan-master: Cannot use parent interface \"eth0:1\": not a Linux interface name (1-15 characters, no spaces, '/' or ':'); name the node's interface on the egress network, e.g. eth1",
    ],
  },
  {
    name: "labels and node selectors",
    args: [redirect, { label: ["team", "a/b/c=x", "ok=bad value"], "node-selector": ["zone"] }],
    messages: [
      '--label: Cannot use label "team": not key=value; write e.g. team=payments',
      '--label: Cannot use label "a/b/c=x": not a label key ([prefix/]name: a DNS prefix, then at most 63 letters, digits, "-", "_" or ".", starting and ending alphanumeric); use e.g. "team" or "example.com/team"',
      '--label: Cannot use label "ok=bad value": not a label value (at most 63 letters, digits, "-", "_" or ".", starting and ending alphanumeric); use e.g. "payments"',
      '--node-selector: Cannot use node selector "zone": not key=value; write e.g. node-role.kubernetes.io/egress=true',
    ],
  },
  {
    name: "clients and metrics namespaces",
    args: [redirect, { "allow-from": ["Shop", "shop/app", "*/"], "allow-metrics-from": ["*"] }],
    messages: [
      '--allow-from: Cannot admit namespace "Shop": not a namespace name (lower-case letters, digits and "-", at most 63 characters); use the namespace\'s name as `kubectl get namespaces` shows it, or * for every namespace',
      '--allow-from: Cannot use pod selector "app": not key=value; write e.g. team=payments',
      '--allow-from: Cannot use pod selector "": not key=value; write e.g. team=payments',
      '--allow-metrics-from: Cannot admit namespace "*": not a namespace name (lower-case letters, digits and "-", at most 63 characters); use the namespace\'s name as `kubectl get namespaces` shows it',
    ],
  },
  {
    name: "-f with an unusable metadata.name and a reserved label",
    args: [{}, {}, er],
    messages: [
      'metadata.name: Cannot use "Egress_1": not usable as a Kubernetes name (lower-case letters, digits and "-", starting with a letter, ending with a letter or digit, at most 63 characters: it names the Service and labels every object); use e.g. "egress-payments", or override it with --name',
      'metadata.labels: Cannot copy label "app.kubernetes.io/name=x" to the generated objects: the generator sets app.kubernetes.io/name itself; fix or remove it',
    ],
  },
];

describe("readRouterSpec refuses with the setting, the value and the fix", () => {
  for (const c of cases) {
    it(c.name, () => {
      const { spec, problems } = trySpec(...c.args);
      assert.equal(spec, undefined);
      assert.deepEqual(
        problems.map((p) => p.message),
        c.messages,
      );
    });
  }
});

describe("readRouterSpec accepts", () => {
  it("EGRESS_ROUTER_MODE=http-proxy with HTTP proxy rules (as an OpenShift pod spec had them)", () => {
    const { spec, problems } = trySpec({ ...http, EGRESS_ROUTER_MODE: "http-proxy" });
    assert.deepEqual(problems, []);
    assert.equal(spec?.rules.kind, "http-proxy");
  });

  it("-f: the resource's name, namespace and labels, flags winning; Multus by default", () => {
    const yaml = er
      .replace("Egress_1", "egress-1")
      .replace("  labels: {app.kubernetes.io/name: x}\n", "  labels: {team: a}\n");
    const fromFile = trySpec({}, {}, yaml).spec;
    assert.equal(fromFile?.name, "egress-1");
    assert.equal(fromFile?.namespace, "payments");
    assert.deepEqual(fromFile?.labels, { team: "a" });
    assert.equal(fromFile?.network.kind, "multus");
    const overridden = trySpec(
      {},
      { name: "egress-2", namespace: "shop", label: ["team=b"] },
      yaml,
    ).spec;
    assert.equal(overridden?.name, "egress-2");
    assert.equal(overridden?.namespace, "shop");
    assert.deepEqual(overridden?.labels, { team: "b" });
  });

  it("router settings that apply pass through to the containers, once, in catalogue order", () => {
    const { spec } = trySpec({
      ...redirect,
      EGRESS_ROUTER_DEBUG: "1",
      EGRESS_NAT_BACKEND: "iptables",
      EGRESS_ADMIN_PORT: "9191",
      EGRESS_CLUSTER_INTERFACE: "ens3",
    });
    assert.deepEqual(spec?.env, [
      { name: "EGRESS_ROUTER_DEBUG", value: "1", in: "all" },
      { name: "EGRESS_ADMIN_PORT", value: "9191", in: "all" },
      { name: "EGRESS_NAT_BACKEND", value: "iptables", in: "all" },
    ]);
    assert.equal(spec?.clusterInterface, "ens3");
    assert.equal(spec?.adminPort, 9191);
  });
});

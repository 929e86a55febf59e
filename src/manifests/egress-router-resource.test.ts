// The EgressRouter conversion, table-driven. Each case also says what the API server does with
// the resource (its CRD schema, with defaulting and strict field validation, stands in for the
// server): where the server rejects, we must reject too; where it accepts but the router could
// not work (no gateway, a port twice, mixed families), we reject with the reason.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { schemaErrors } from "../../test/helpers/kubernetes-schema.ts";
import { readEgressRouter } from "./egress-router-resource.ts";

const head = `apiVersion: network.operator.openshift.io/v1
kind: EgressRouter
metadata:
  name: egress-1
  namespace: payments
spec:
`;
const addr = `  addresses:
    - ip: 192.0.2.99/24
      gateway: 192.0.2.1
`;
const rules = (r: string) => `  redirect:\n    redirectRules:\n${r}`;
const fallbackOnly = `  redirect:\n    fallbackIP: 203.0.113.27\n`;

describe("valid resources: every field honoured", () => {
  const cases: {
    name: string;
    body: string;
    lines: string[];
    source?: string;
    extra?: string[];
    macvlan?: { master: string | undefined; mode: string };
  }[] = [
    {
      name: "rules with TCP, UDP, SCTP and targetPort, then the fallbackIP (which OpenShift ignores)",
      body:
        addr +
        rules(
          `      - {destinationIP: 203.0.113.25, port: 80, protocol: TCP}
      - {destinationIP: 203.0.113.26, port: 8080, protocol: TCP, targetPort: 80}
      - {destinationIP: 203.0.113.53, port: 53, protocol: UDP}
      - {destinationIP: 203.0.113.9, port: 3868, protocol: SCTP}
`,
        ) +
        "    fallbackIP: 203.0.113.27\n",
      lines: [
        "80 tcp 203.0.113.25",
        "8080 tcp 203.0.113.26 80",
        "53 udp 203.0.113.53",
        "3868 sctp 203.0.113.9",
        "203.0.113.27",
      ],
    },
    {
      name: "only a fallbackIP: every port goes there",
      body: addr + fallbackOnly,
      lines: ["203.0.113.27"],
    },
    {
      name: "targetPort equal to port is the same rule as without it",
      body:
        addr +
        rules("      - {destinationIP: 203.0.113.25, port: 443, protocol: TCP, targetPort: 443}\n"),
      lines: ["443 tcp 203.0.113.25"],
    },
    {
      name: "every address: the first is the source, the others go on the interface too (OpenShift used the first only)",
      body: `  addresses:\n    - ip: 192.0.2.99/24\n      gateway: 192.0.2.1\n    - ip: 192.0.2.100/24\n    - ip: 198.51.100.7/32\n      gateway: 198.51.100.1\n${fallbackOnly}`,
      lines: ["203.0.113.27"],
      source: "192.0.2.99/24 via 192.0.2.1",
      extra: ["192.0.2.100/24", "198.51.100.7/32 via 198.51.100.1"],
    },
    {
      name: "a plain address without /N gets a host prefix",
      body: `  addresses:\n    - ip: 192.0.2.99\n      gateway: 192.0.2.1\n${fallbackOnly}`,
      lines: ["203.0.113.27"],
      source: "192.0.2.99/32 via 192.0.2.1",
    },
    {
      name: "macvlan master and mode (which OpenShift ignores)",
      body: `${addr}  networkInterface:\n    macvlan:\n      master: bond0.120\n      mode: Private\n${fallbackOnly}`,
      lines: ["203.0.113.27"],
      macvlan: { master: "bond0.120", mode: "private" },
    },
    {
      name: "VEPA and Passthru map to the CNI plugin's names",
      body: `${addr}  networkInterface:\n    macvlan:\n      mode: VEPA\n${fallbackOnly}`,
      lines: ["203.0.113.27"],
      macvlan: { master: undefined, mode: "vepa" },
    },
    {
      name: "defaults as the API server fills them: mode Redirect, macvlan Bridge",
      body: addr + fallbackOnly,
      lines: ["203.0.113.27"],
      macvlan: { master: undefined, mode: "bridge" },
    },
    {
      name: "IPv6 source, gateway and destinations (canonical form)",
      body: `  mode: Redirect\n  addresses:\n    - ip: "2001:DB8:1::99/64"\n      gateway: "2001:db8:1::1"\n${rules('      - {destinationIP: "2001:db8:2:0::25", port: 443, protocol: TCP}\n')}`,
      lines: ["443 tcp 2001:db8:2::25"],
      source: "2001:db8:1::99/64 via 2001:db8:1::1",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const yaml = head + c.body;
      assert.deepEqual(schemaErrors(parse(yaml)), [], "the API server accepts it");
      const { value, problems } = readEgressRouter(yaml, "egressrouter.yaml");
      assert.deepEqual(problems, []);
      assert.ok(value);
      assert.deepEqual(
        value.rulesText.split("\n").filter((l) => l !== "" && !l.startsWith("#")),
        c.lines,
      );
      assert.equal(value.rules.length, c.lines.length);
      assert.equal(value.name, "egress-1");
      assert.equal(value.namespace, "payments");
      const show = (a: { address: string; prefixLength: number; gateway?: string | undefined }) =>
        `${a.address}/${a.prefixLength}${a.gateway === undefined ? "" : ` via ${a.gateway}`}`;
      assert.equal(
        show({ ...value.source, gateway: value.gateway }),
        c.source ?? "192.0.2.99/24 via 192.0.2.1",
      );
      assert.deepEqual(value.extraAddresses.map(show), c.extra ?? []);
      assert.deepEqual(value.macvlan, c.macvlan ?? { master: undefined, mode: "bridge" });
    });
  }

  it("keeps metadata.labels for the generated objects", () => {
    const yaml =
      head.replace(
        "  namespace: payments\n",
        "  namespace: payments\n  labels:\n    team: payments\n",
      ) +
      addr +
      fallbackOnly;
    assert.deepEqual(readEgressRouter(yaml, "egressrouter.yaml").value?.labels, {
      team: "payments",
    });
  });

  it("reads a resource as kubectl get -o yaml prints it (metadata and status fields)", () => {
    const yaml = `${head.replace("  namespace: payments\n", '  namespace: payments\n  uid: 3f0c\n  resourceVersion: "42"\n  generation: 1\n')}${addr}${fallbackOnly}status:\n  conditions:\n    - type: Available\n      status: "True"\n      lastTransitionTime: "2026-01-01T00:00:00Z"\n`;
    assert.deepEqual(readEgressRouter(yaml, "egressrouter.yaml").problems, []);
  });
});

describe("invalid resources: field path, line and fix", () => {
  const cases: {
    name: string;
    body: string;
    apiServer: "accepts" | "rejects";
    messages: string[];
  }[] = [
    {
      name: "lower-case protocol",
      body: addr + rules("      - {destinationIP: 203.0.113.25, port: 80, protocol: tcp}\n"),
      apiServer: "rejects",
      messages: [
        'spec.redirect.redirectRules[0].protocol line 12: Cannot use protocol "tcp": the EgressRouter takes TCP, UDP or SCTP; write "TCP" (upper case)',
      ],
    },
    {
      name: "quoted port",
      body: addr + rules('      - {destinationIP: 203.0.113.25, port: "8080", protocol: TCP}\n'),
      apiServer: "rejects",
      messages: [
        'spec.redirect.redirectRules[0].port line 12: Cannot listen on port "8080": it is a quoted string and the API server takes a number; drop the quotes',
      ],
    },
    {
      name: "port 0",
      body: addr + rules("      - {destinationIP: 203.0.113.25, port: 0, protocol: TCP}\n"),
      apiServer: "rejects",
      messages: [
        'spec.redirect.redirectRules[0].port line 12: Cannot listen on port "0": not a port; use a number from 1 to 65535',
      ],
    },
    {
      name: "port 70000",
      body: addr + rules("      - {destinationIP: 203.0.113.25, port: 70000, protocol: TCP}\n"),
      apiServer: "rejects",
      messages: [
        'spec.redirect.redirectRules[0].port line 12: Cannot listen on port "70000": not a port; use a number from 1 to 65535',
      ],
    },
    {
      name: "targetPort 0",
      body:
        addr +
        rules("      - {destinationIP: 203.0.113.25, port: 80, protocol: TCP, targetPort: 0}\n"),
      apiServer: "rejects",
      messages: [
        'spec.redirect.redirectRules[0].targetPort line 12: Cannot redirect to target port "0": not a port; use a number from 1 to 65535',
      ],
    },
    {
      name: "a host name as destinationIP",
      body: addr + rules("      - {destinationIP: api.example.com, port: 443, protocol: TCP}\n"),
      apiServer: "rejects",
      messages: [
        'spec.redirect.redirectRules[0].destinationIP line 12: Cannot redirect to "api.example.com": not an IPv4 or IPv6 address (names are not allowed here); write the destination\'s address, e.g. 203.0.113.25',
      ],
    },
    {
      name: "a rule with its required fields missing",
      body: addr + rules("      - {targetPort: 80}\n"),
      apiServer: "rejects",
      messages: [
        "spec.redirect.redirectRules[0].destinationIP line 12: Cannot redirect: the field is missing; add it, e.g. destinationIP: 203.0.113.25",
        "spec.redirect.redirectRules[0].port line 12: Cannot listen on port: the field is missing; add it, a number from 1 to 65535",
        "spec.redirect.redirectRules[0].protocol line 12: Cannot choose the protocol: the field is missing; add it, e.g. protocol: TCP",
      ],
    },
    {
      name: "redirectRules as a mapping",
      body: addr + "  redirect:\n    redirectRules: {destinationIP: 203.0.113.25}\n",
      apiServer: "rejects",
      messages: [
        'spec.redirect.redirectRules line 11: Cannot read the rules: it is a mapping, not a list; write one "- destinationIP: …" item per rule',
        "spec.redirect line 11: Cannot redirect anything: neither redirectRules nor fallbackIP is set; add at least one rule, or a fallbackIP for every port",
      ],
    },
    {
      name: "an impossible fallbackIP",
      body: addr + "  redirect:\n    fallbackIP: 300.1.1.1\n",
      apiServer: "rejects",
      messages: [
        'spec.redirect.fallbackIP line 11: Cannot send the other ports to "300.1.1.1": not an IPv4 or IPv6 address; write the fallback destination\'s address, or remove fallbackIP so that other ports are refused',
      ],
    },
    {
      name: "a misspelt field (the API server would drop it silently)",
      body: addr + "  redirect:\n    fallbackIp: 203.0.113.27\n",
      apiServer: "rejects",
      messages: [
        'spec.redirect.fallbackIp line 11: Cannot use field "fallbackIp": an EgressRouter has no such field in spec.redirect (the API server would drop it silently); did you mean "fallbackIP"?',
        "spec.redirect line 11: Cannot redirect anything: neither redirectRules nor fallbackIP is set; add at least one rule, or a fallbackIP for every port",
      ],
    },
    {
      name: "a mode other than Redirect",
      body: `${addr}  mode: HTTP\n${fallbackOnly}`,
      apiServer: "rejects",
      messages: [
        'spec.mode line 10: Cannot build mode "HTTP": Redirect is the EgressRouter\'s only mode; write mode: Redirect (for an HTTP or DNS proxy, use the EGRESS_* variables or flags instead)',
      ],
    },
    {
      name: "no redirect section",
      body: addr,
      apiServer: "rejects",
      messages: [
        "spec.redirect line 7: Cannot redirect anything: spec.redirect is missing (mode Redirect requires it); add redirect.redirectRules and/or redirect.fallbackIP",
      ],
    },
    {
      name: "an empty redirect section",
      body: `${addr}  redirect: {}\n`,
      apiServer: "accepts",
      messages: [
        "spec.redirect line 10: Cannot redirect anything: neither redirectRules nor fallbackIP is set; add at least one rule, or a fallbackIP for every port",
      ],
    },
    {
      name: "no addresses",
      body: fallbackOnly,
      apiServer: "rejects",
      messages: [
        "spec.addresses line 7: Cannot set up the egress address: spec.addresses is missing; give the reserved address and its gateway, e.g. addresses: [{ip: 192.0.2.99/24, gateway: 192.0.2.1}]",
      ],
    },
    {
      name: "an empty address list",
      body: `  addresses: []\n${fallbackOnly}`,
      apiServer: "accepts",
      messages: [
        "spec.addresses line 7: Cannot set up the egress address: the list is empty; give the reserved address and its gateway, e.g. addresses: [{ip: 192.0.2.99/24, gateway: 192.0.2.1}]",
      ],
    },
    {
      name: "the first address without a gateway",
      body: `  addresses:\n    - ip: 192.0.2.99/24\n${fallbackOnly}`,
      apiServer: "accepts",
      messages: [
        "spec.addresses[0].gateway line 8: Cannot route egress traffic: the first address has no gateway, and the router needs the next hop on the egress network; add gateway: <next hop>, e.g. gateway: 192.0.2.1",
      ],
    },
    {
      name: "an impossible address (the CRD takes any string)",
      body: `  addresses:\n    - ip: 192.0.2.999/24\n      gateway: 192.0.2.1\n${fallbackOnly}`,
      apiServer: "accepts",
      messages: [
        'spec.addresses[0].ip line 8: Cannot configure "192.0.2.999/24": not an IPv4 or IPv6 address with an optional /prefix in range; write e.g. 192.0.2.99/24 or 2001:db8::99/64',
      ],
    },
    {
      name: "the same address twice",
      body: `  addresses:\n    - ip: 192.0.2.99/24\n      gateway: 192.0.2.1\n    - ip: 192.0.2.99/32\n${fallbackOnly}`,
      apiServer: "accepts",
      messages: [
        'spec.addresses[1].ip line 10: Cannot configure "192.0.2.99" twice: spec.addresses[0] has it already; remove one of them',
      ],
    },
    {
      name: "a gateway of the other family",
      body: `  addresses:\n    - ip: 192.0.2.99/24\n      gateway: "2001:db8::1"\n${fallbackOnly}`,
      apiServer: "accepts",
      messages: [
        'spec.addresses[0].gateway line 9: Cannot route via "2001:db8::1": it is IPv6 but the address 192.0.2.99 is IPv4; use a gateway of the address\'s family',
      ],
    },
    {
      name: "a gateway with a prefix",
      body: `  addresses:\n    - ip: 192.0.2.99/24\n      gateway: 192.0.2.1/24\n${fallbackOnly}`,
      apiServer: "rejects",
      messages: [
        'spec.addresses[0].gateway line 9: Cannot route via "192.0.2.1/24": a gateway is one address, not a prefix; drop the /N',
      ],
    },
    {
      name: "one port for UDP and TCP (the router's grammar takes each local port once)",
      body:
        addr +
        rules(
          "      - {destinationIP: 203.0.113.53, port: 53, protocol: UDP}\n      - {destinationIP: 203.0.113.53, port: 53, protocol: TCP}\n",
        ),
      apiServer: "accepts",
      messages: [
        "spec.redirect.redirectRules[1].port line 13: Cannot redirect port 53 twice: redirectRules[0] uses it already, and each local port takes one rule whatever the protocol; give one of them another port",
      ],
    },
    {
      name: "an IPv6 destination from an IPv4 source",
      body: addr + rules('      - {destinationIP: "2001:db8::1", port: 443, protocol: TCP}\n'),
      apiServer: "accepts",
      messages: [
        'spec.redirect.redirectRules[0].destinationIP line 12: Cannot redirect to "2001:db8::1": it is IPv6 but the source address (spec.addresses[0].ip) is IPv4, and NAT does not translate between families; use a destination of the source\'s family, or a second EgressRouter whose first address is IPv6',
      ],
    },
    {
      name: "a lower-case macvlan mode",
      body: `${addr}  networkInterface:\n    macvlan:\n      mode: bridge\n${fallbackOnly}`,
      apiServer: "rejects",
      messages: [
        'spec.networkInterface.macvlan.mode line 12: Cannot use macvlan mode "bridge": the EgressRouter takes Bridge, Private, VEPA, Passthru (case-sensitive); use one of them',
      ],
    },
    {
      name: "a networkInterface without macvlan",
      body: `${addr}  networkInterface: {}\n${fallbackOnly}`,
      apiServer: "rejects",
      messages: [
        "spec.networkInterface line 10: Cannot create the interface: networkInterface has no macvlan (the only interface type); add macvlan: {mode: Bridge} or remove networkInterface",
      ],
    },
    {
      name: "a master that is no interface name",
      body: `${addr}  networkInterface:\n    macvlan:\n      mode: Bridge\n      master: "eth 1"\n${fallbackOnly}`,
      apiServer: "accepts",
      messages: [
        "spec.networkInterface.macvlan.master line 13: Cannot use \"eth 1\" as the parent interface: not a Linux interface name (1-15 characters, no spaces, '/' or ':'); name the node's interface on the egress network, e.g. eth1",
      ],
    },
  ];
  for (const c of cases) {
    it(`${c.name} (the API server ${c.apiServer === "accepts" ? "accepts it, the router could not work" : "rejects it too"})`, () => {
      const yaml = head + c.body;
      assert.equal(schemaErrors(parse(yaml)).length === 0 ? "accepts" : "rejects", c.apiServer);
      const { value, problems } = readEgressRouter(yaml, "egressrouter.yaml");
      assert.equal(value, undefined);
      assert.deepEqual(
        problems.map((p) => p.message),
        c.messages,
      );
      assert.ok(problems.every((p) => p.code === "resource-invalid"));
    });
  }

  const files: [string, string, string][] = [
    [
      "another kind",
      "apiVersion: v1\nkind: ConfigMap\n",
      "apiVersion line 1: Cannot read ConfigMap of v1: -f takes an EgressRouter of network.operator.openshift.io/v1; for the HTTP or DNS proxy, use the EGRESS_* variables or flags instead",
    ],
    [
      "broken YAML",
      "spec: [\n",
      "egressrouter.yaml line 2: Cannot parse the YAML: Flow sequence in block collection must be sufficiently indented and end with a ]; fix the syntax there",
    ],
    [
      "two documents",
      `${head}${addr}---\n${head}${addr}`,
      "egressrouter.yaml: Cannot read 2 documents: one run generates one router; split the file and run once per EgressRouter",
    ],
    [
      "an empty file",
      "",
      "egressrouter.yaml: Cannot read an EgressRouter: the file has no YAML document; pass a file with one EgressRouter resource",
    ],
    [
      "a list",
      "- a\n",
      "egressrouter.yaml: Cannot read an EgressRouter: the document is a list, not a resource; pass a file with one EgressRouter resource",
    ],
    [
      "no spec",
      "apiVersion: network.operator.openshift.io/v1\nkind: EgressRouter\n",
      "spec line 1: Cannot generate a router: the resource has no spec; add spec.addresses (the source address and gateway) and spec.redirect (the rules)",
    ],
  ];
  for (const [name, yaml, message] of files) {
    it(`the file: ${name}`, () => {
      assert.deepEqual(
        readEgressRouter(yaml, "egressrouter.yaml").problems.map((p) => p.message),
        [message],
      );
    });
  }
});

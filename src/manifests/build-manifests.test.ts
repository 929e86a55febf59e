import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IService } from "kubernetes-models/v1/Service";
import { schemaErrors } from "../../test/helpers/kubernetes-schema.ts";
import { image, spec, trySpec, v4, v6 } from "../../test/helpers/router-specs.ts";
import { buildManifests, type ManifestObject } from "./build-manifests.ts";
import type { NetworkAttachmentDefinition } from "./build-network-attachment.ts";
import type { RouterSpec } from "./router-spec.ts";

const redirect = {
  ...v4,
  EGRESS_DESTINATION: "80 tcp 203.0.113.25\n53 udp 203.0.113.53\n3868 sctp 203.0.113.9 3869",
};
const withFallback = { ...v4, EGRESS_DESTINATION: "8080 tcp 203.0.113.26 80\n203.0.113.27" };
const http = { ...v4, EGRESS_HTTP_PROXY_DESTINATION: "*.example.com\n!10.0.0.0/8\n*" };
const dns = { ...v4, EGRESS_DNS_PROXY_DESTINATION: "5432 db.example.com\n8443 203.0.113.7 443" };
const multus = { network: "multus", "macvlan-master": "eth1" };

function objects(s: RouterSpec) {
  const all = buildManifests(s);
  const find = <T extends ManifestObject>(kind: string) =>
    all.find((o) => o.kind === kind) as T | undefined;
  const deployment = find<IDeployment>("Deployment");
  const pod = deployment?.spec?.template.spec;
  return {
    all,
    kinds: all.map((o) => o.kind),
    deployment,
    pod,
    init: pod?.initContainers?.[0] as IContainer,
    main: pod?.containers[0] as IContainer,
    service: find<IService>("Service"),
    policy: find<INetworkPolicy>("NetworkPolicy"),
    configMap: find<IConfigMap>("ConfigMap"),
    nad: find<NetworkAttachmentDefinition>("NetworkAttachmentDefinition"),
  };
}
const envOf = (c: IContainer) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));

describe("every object passes the Kubernetes schemas", () => {
  const cases: [string, RouterSpec][] = [
    ["redirect, SDN", spec(redirect)],
    ["redirect with fallback, Multus", spec(withFallback, multus)],
    ["HTTP proxy, IPv6, Multus", spec({ ...v6, EGRESS_HTTP_PROXY_DESTINATION: "*" }, multus)],
    [
      "DNS proxy on port 53, node selector, limits off",
      spec(
        { ...v4, EGRESS_DNS_PROXY_DESTINATION: "53 203.0.113.53" },
        { "node-selector": ["egress=yes"], "memory-limit": "none", "cpu-limit": "1" },
      ),
    ],
    ["active/standby, SDN", spec({ ...redirect, EGRESS_HA_VRID: "7" }, { replicas: "2" })],
    [
      "active/standby, IPv6, Multus",
      spec(
        { ...v6, EGRESS_DESTINATION: "443 tcp 2001:db8:3::25", EGRESS_HA_VRID: "7" },
        {
          ...multus,
          replicas: "3",
        },
      ),
    ],
    [
      "clients by label anywhere, metrics, pull secret",
      spec(http, {
        "allow-from": ["*/app=shop", "billing"],
        "allow-metrics-from": ["monitoring"],
        "image-pull-secret": ["regcred"],
        label: ["team=payments"],
      }),
    ],
  ];
  for (const [name, s] of cases) {
    it(name, () => {
      for (const o of buildManifests(s)) assert.deepEqual(schemaErrors(o), [], `${o.kind}`);
    });
  }
});

describe("Deployment", () => {
  it("one replica, Recreate: two pods never hold the source address at once", () => {
    const { deployment } = objects(spec(redirect));
    assert.equal(deployment?.spec?.replicas, 1);
    assert.deepEqual(deployment?.spec?.strategy, { type: "Recreate" });
  });

  it("refuses several replicas of a proxy: only redirect mode has an election", () => {
    assert.throws(() => buildManifests({ ...spec(http), replicas: 2 }), {
      message:
        "replicas: Cannot build 2 replicas of a http-proxy router: only redirect mode has an active/standby form; use 1",
    });
  });

  const modes: [
    string,
    Record<string, string>,
    string,
    string,
    Record<string, string | undefined>,
  ][] = [
    [
      "redirect",
      redirect,
      "init",
      "redirect",
      { EGRESS_ROUTER_MODE: "legacy", EGRESS_DESTINATION_FILE: "/etc/egress-router/destination" },
    ],
    [
      "HTTP proxy",
      http,
      "http-proxy",
      "http-proxy",
      { EGRESS_HTTP_PROXY_DESTINATION_FILE: "/etc/egress-router/http-proxy-destination" },
    ],
    [
      "DNS proxy",
      dns,
      "dns-proxy",
      "dns-proxy",
      { EGRESS_DNS_PROXY_DESTINATION_FILE: "/etc/egress-router/dns-proxy-destination" },
    ],
  ];
  for (const [name, env, setupMode, mainName, mainEnv] of modes) {
    it(`${name}: the init container sets the network up in mode ${setupMode}, the main container reads the mounted rules`, () => {
      const { init, main, configMap } = objects(spec(env));
      assert.equal(init.name, "network-setup");
      assert.equal(envOf(init)["EGRESS_ROUTER_MODE"], setupMode);
      assert.equal(envOf(init)["EGRESS_SOURCE"], "192.0.2.99/24");
      assert.equal(envOf(init)["EGRESS_GATEWAY"], "192.0.2.1");
      assert.equal(envOf(init)["EGRESS_INTERFACE"], "macvlan0");
      assert.equal(main.name, mainName);
      for (const [k, v] of Object.entries(mainEnv)) assert.equal(envOf(main)[k], v, k);
      const fileEnv = (main.env ?? []).find((e) => e.name.endsWith("_FILE"));
      const mount = main.volumeMounts?.find((m) => m.name === "rules");
      assert.equal(mount?.readOnly, true);
      assert.equal(mount?.subPath, undefined, "a subPath mount would never see ConfigMap updates");
      const key = fileEnv?.value?.slice(`${mount?.mountPath}/`.length) ?? "";
      assert.ok(key in (configMap?.data ?? {}), `ConfigMap has ${key}`);
      assert.equal(image, main.image);
    });
  }

  it("least privilege: the setup runs as root with NET_ADMIN and NET_RAW only; proxies run unprivileged", () => {
    const { init, main } = objects(spec(http));
    assert.deepEqual(init.securityContext, {
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW"] },
    });
    assert.deepEqual(main.securityContext, {
      runAsUser: 10001,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
  });

  it("redirect: the long-running container keeps NET_ADMIN to reload the NAT rules", () => {
    const { main } = objects(spec(redirect));
    assert.deepEqual(main.securityContext?.capabilities, { drop: ["ALL"], add: ["NET_ADMIN"] });
    assert.equal(main.securityContext?.runAsUser, 0);
  });

  it("IPv6: the setup is privileged, since forwarding and ndisc_notify live in read-only /proc/sys", () => {
    const { init, main } = objects(spec({ ...v6, EGRESS_DESTINATION: "443 tcp 2001:db8:2::1" }));
    assert.deepEqual(init.securityContext, {
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: true,
      privileged: true,
      readOnlyRootFilesystem: true,
    });
    assert.equal(main.securityContext?.privileged, false);
  });

  it("--privileged-setup: the IPv4 set-up privileged too (for nodes whose forwarding is off)", () => {
    const { init, main } = objects(spec(redirect, { "privileged-setup": true }));
    assert.equal(init.securityContext?.privileged, true);
    assert.equal(init.securityContext?.capabilities, undefined);
    assert.equal(main.securityContext?.privileged, false);
  });

  it("probes on the admin port: readiness /readyz, liveness /healthz", () => {
    const { main } = objects(spec(dns, {}));
    assert.deepEqual(main.readinessProbe?.httpGet, {
      path: "/readyz",
      port: "admin",
      scheme: "HTTP",
    });
    assert.deepEqual(main.livenessProbe?.httpGet, {
      path: "/healthz",
      port: "admin",
      scheme: "HTTP",
    });
    assert.deepEqual(main.ports?.at(-1), { name: "admin", containerPort: 9090, protocol: "TCP" });
    const other = objects(spec({ ...dns, EGRESS_ADMIN_PORT: "9191" }));
    assert.deepEqual(other.main.ports?.at(-1), {
      name: "admin",
      containerPort: 9191,
      protocol: "TCP",
    });
    assert.equal(envOf(other.main)["EGRESS_ADMIN_PORT"], "9191");
  });

  it("the grace period outlasts the drain time; no API token, no service-link variables", () => {
    const { pod } = objects(spec({ ...http, EGRESS_DRAIN_SECONDS: "62.5" }));
    assert.equal(pod?.terminationGracePeriodSeconds, 68);
    assert.equal(pod?.automountServiceAccountToken, false);
    assert.equal(pod?.enableServiceLinks, false);
  });

  const lowPorts: [string, Record<string, string>, string | undefined][] = [
    [
      "DNS proxy on 53 and 5432: from 53",
      { ...v4, EGRESS_DNS_PROXY_DESTINATION: "5432 db.example.com\n53 203.0.113.53" },
      "53",
    ],
    ["DNS proxy above 1023: none", dns, undefined],
    ["HTTP proxy on 80: from 80", { ...http, EGRESS_HTTP_PROXY_PORT: "80" }, "80"],
    ["admin port 443 below the data ports: from 443", { ...http, EGRESS_ADMIN_PORT: "443" }, "443"],
    ["redirect on 80 runs as root: none", redirect, undefined],
  ];
  for (const [name, env, start] of lowPorts) {
    it(`unprivileged low ports by pod sysctl: ${name}`, () => {
      const { pod } = objects(spec(env));
      assert.deepEqual(
        pod?.securityContext?.sysctls,
        start === undefined
          ? undefined
          : [{ name: "net.ipv4.ip_unprivileged_port_start", value: start }],
      );
    });
  }

  it("resources, node selector, pull secrets and extra labels; the selector stays fixed", () => {
    const { deployment, pod, main } = objects(
      spec(http, {
        "cpu-request": "250m",
        "memory-limit": "1Gi",
        "cpu-limit": "2",
        "node-selector": ["egress=yes", "zone=a"],
        "image-pull-secret": ["regcred"],
        label: ["team=payments"],
      }),
    );
    assert.deepEqual(main.resources, {
      requests: { cpu: "250m", memory: "128Mi" },
      limits: { cpu: "2", memory: "1Gi" },
    });
    assert.deepEqual(pod?.nodeSelector, { egress: "yes", zone: "a" });
    assert.deepEqual(pod?.imagePullSecrets, [{ name: "regcred" }]);
    assert.equal(deployment?.metadata?.labels?.["team"], "payments");
    assert.deepEqual(deployment?.spec?.selector.matchLabels, {
      "app.kubernetes.io/name": "egress-router",
      "app.kubernetes.io/instance": "egress-router",
    });
  });
});

describe("network attachment", () => {
  it('OpenShift SDN: the annotation is the quoted string "true", no NetworkAttachmentDefinition', () => {
    const { deployment, kinds } = objects(spec(redirect));
    assert.equal(
      deployment?.spec?.template.metadata?.annotations?.["pod.network.openshift.io/assign-macvlan"],
      "true",
    );
    assert.deepEqual(kinds, [
      "ServiceAccount",
      "ConfigMap",
      "Deployment",
      "Service",
      "NetworkPolicy",
    ]);
  });

  it("OpenShift SDN with a parent interface: the annotation names it", () => {
    const { deployment } = objects(spec(redirect, { "macvlan-master": "eth1" }));
    assert.equal(
      deployment?.spec?.template.metadata?.annotations?.["pod.network.openshift.io/assign-macvlan"],
      "eth1",
    );
  });

  it("Multus: a macvlan NetworkAttachmentDefinition with static IPAM, attached as net1, and the router told so", () => {
    const { nad, deployment, init, main, kinds } = objects(
      spec(redirect, {
        ...multus,
        "macvlan-mode": "private",
        namespace: "payments",
        name: "egress-a",
      }),
    );
    assert.deepEqual(kinds, [
      "ServiceAccount",
      "NetworkAttachmentDefinition",
      "ConfigMap",
      "Deployment",
      "Service",
      "NetworkPolicy",
    ]);
    assert.deepEqual(JSON.parse(nad?.spec.config ?? ""), {
      cniVersion: "0.4.0",
      name: "egress-a",
      type: "macvlan",
      master: "eth1",
      mode: "private",
      ipam: { type: "static", addresses: [{ address: "192.0.2.99/24", gateway: "192.0.2.1" }] },
    });
    assert.deepEqual(
      JSON.parse(
        deployment?.spec?.template.metadata?.annotations?.["k8s.v1.cni.cncf.io/networks"] ?? "",
      ),
      [{ name: "egress-a", namespace: "payments", interface: "net1" }],
    );
    assert.equal(envOf(init)["EGRESS_INTERFACE"], "net1");
    assert.equal(envOf(main)["EGRESS_INTERFACE"], "net1");
  });

  it("Multus ipvlan: an ipvlan NetworkAttachmentDefinition (L2 by default), the router told the interface name", () => {
    const { nad, init, main } = objects(
      spec(redirect, {
        network: "multus",
        "interface-type": "ipvlan",
        master: "ens192",
        name: "egress-a",
      }),
    );
    assert.deepEqual(JSON.parse(nad?.spec.config ?? ""), {
      cniVersion: "0.4.0",
      name: "egress-a",
      type: "ipvlan",
      master: "ens192",
      mode: "l2",
      ipam: { type: "static", addresses: [{ address: "192.0.2.99/24", gateway: "192.0.2.1" }] },
    });
    assert.equal(envOf(init)["EGRESS_INTERFACE"], "net1");
    assert.equal(envOf(main)["EGRESS_INTERFACE"], "net1");
    const l3 = objects(
      spec(redirect, { network: "multus", "interface-type": "ipvlan", "ipvlan-mode": "l3s" }),
    );
    assert.equal((JSON.parse(l3.nad?.spec.config ?? "") as { mode: string }).mode, "l3s");
  });

  it("Multus without a master: the macvlan plugin picks the node's default-route interface", () => {
    const { nad } = objects(spec(redirect, { network: "multus", interface: "egress0" }));
    const config = JSON.parse(nad?.spec.config ?? "") as Record<string, unknown>;
    assert.equal("master" in config, false);
    assert.equal(config["mode"], "bridge");
  });

  it("Multus with EGRESS_INTERFACE: the attachment and the router use that name", () => {
    const { deployment, init } = objects(
      spec({ ...redirect, EGRESS_INTERFACE: "egress0" }, { network: "multus" }),
    );
    assert.match(
      deployment?.spec?.template.metadata?.annotations?.["k8s.v1.cni.cncf.io/networks"] ?? "",
      /"interface":"egress0"/,
    );
    assert.equal(envOf(init)["EGRESS_INTERFACE"], "egress0");
  });
});

describe("Service: exactly the ports the rules use", () => {
  const cases: [string, Record<string, string>, IService["spec"]][] = [
    [
      "HTTP proxy: 8080",
      http,
      {
        type: "ClusterIP",
        selector: {
          "app.kubernetes.io/name": "egress-router",
          "app.kubernetes.io/instance": "egress-router",
        },
        ports: [{ name: "http-proxy", port: 8080, targetPort: "http-proxy", protocol: "TCP" }],
      },
    ],
    [
      "HTTP proxy on another port",
      { ...http, EGRESS_HTTP_PROXY_PORT: "3128" },
      {
        type: "ClusterIP",
        selector: {
          "app.kubernetes.io/name": "egress-router",
          "app.kubernetes.io/instance": "egress-router",
        },
        ports: [{ name: "http-proxy", port: 3128, targetPort: "http-proxy", protocol: "TCP" }],
      },
    ],
    [
      "DNS proxy: each local port, TCP",
      dns,
      {
        type: "ClusterIP",
        selector: {
          "app.kubernetes.io/name": "egress-router",
          "app.kubernetes.io/instance": "egress-router",
        },
        ports: [
          { name: "tcp-5432", port: 5432, targetPort: "tcp-5432", protocol: "TCP" },
          { name: "tcp-8443", port: 8443, targetPort: "tcp-8443", protocol: "TCP" },
        ],
      },
    ],
    [
      "redirect: each local port with its protocol",
      redirect,
      {
        type: "ClusterIP",
        selector: {
          "app.kubernetes.io/name": "egress-router",
          "app.kubernetes.io/instance": "egress-router",
        },
        ports: [
          { name: "tcp-80", port: 80, targetPort: "tcp-80", protocol: "TCP" },
          { name: "udp-53", port: 53, targetPort: "udp-53", protocol: "UDP" },
          { name: "sctp-3868", port: 3868, targetPort: "sctp-3868", protocol: "SCTP" },
        ],
      },
    ],
    [
      "redirect with a fallback: headless, so every port reaches the pod",
      withFallback,
      {
        type: "ClusterIP",
        clusterIP: "None",
        selector: {
          "app.kubernetes.io/name": "egress-router",
          "app.kubernetes.io/instance": "egress-router",
        },
        ports: [{ name: "tcp-8080", port: 8080, targetPort: "tcp-8080", protocol: "TCP" }],
      },
    ],
    [
      "redirect with only a fallback: headless, no ports",
      { ...v4, EGRESS_DESTINATION: "203.0.113.27" },
      {
        type: "ClusterIP",
        clusterIP: "None",
        selector: {
          "app.kubernetes.io/name": "egress-router",
          "app.kubernetes.io/instance": "egress-router",
        },
      },
    ],
  ];
  for (const [name, env, expected] of cases) {
    it(name, () => assert.deepEqual(objects(spec(env)).service?.spec, expected));
  }
});

describe("NetworkPolicy: only the chosen clients, only the rule ports", () => {
  const own = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "default" } } };
  const cases: [string, Record<string, string>, OptionValuesLike, INetworkPolicy["spec"]][] = [
    [
      "default: the router's namespace, on the rule ports",
      dns,
      {},
      {
        podSelector: {
          matchLabels: {
            "app.kubernetes.io/name": "egress-router",
            "app.kubernetes.io/instance": "egress-router",
          },
        },
        policyTypes: ["Ingress"],
        ingress: [
          {
            from: [own],
            ports: [
              { protocol: "TCP", port: 5432 },
              { protocol: "TCP", port: 8443 },
            ],
          },
        ],
      },
    ],
    [
      "named namespaces and labelled pods, metrics from monitoring",
      http,
      {
        "allow-from": ["shop/app=checkout,tier=web", "billing", "*/team=risk"],
        "allow-metrics-from": ["monitoring"],
      },
      {
        podSelector: {
          matchLabels: {
            "app.kubernetes.io/name": "egress-router",
            "app.kubernetes.io/instance": "egress-router",
          },
        },
        policyTypes: ["Ingress"],
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "shop" } },
                podSelector: { matchLabels: { app: "checkout", tier: "web" } },
              },
              { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "billing" } } },
              { namespaceSelector: {}, podSelector: { matchLabels: { team: "risk" } } },
            ],
            ports: [{ protocol: "TCP", port: 8080 }],
          },
          {
            from: [
              {
                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
              },
            ],
            ports: [{ protocol: "TCP", port: 9090 }],
          },
        ],
      },
    ],
    [
      "redirect fallback: every port, so no port list",
      withFallback,
      {},
      {
        podSelector: {
          matchLabels: {
            "app.kubernetes.io/name": "egress-router",
            "app.kubernetes.io/instance": "egress-router",
          },
        },
        policyTypes: ["Ingress"],
        ingress: [{ from: [own] }],
      },
    ],
  ];
  for (const [name, env, options, expected] of cases) {
    it(name, () => assert.deepEqual(objects(spec(env, options)).policy?.spec, expected));
  }
});
type OptionValuesLike = Record<string, string | string[]>;

describe("ConfigMap", () => {
  it("holds the rule text as given (comments kept), newline-terminated", () => {
    const { configMap } = objects(
      spec({ ...v4, EGRESS_DESTINATION: "# web\n80 tcp 203.0.113.25" }),
    );
    assert.deepEqual(configMap?.data, { destination: "# web\n80 tcp 203.0.113.25\n" });
    assert.equal(configMap?.metadata?.name, "egress-router-rules");
  });
});

describe("active/standby set (--replicas 2 or more)", () => {
  const ha = { ...redirect, EGRESS_HA_VRID: "42" };

  it("one container running `ha run`, elected by keepalived, ready only while it holds the address", () => {
    const { deployment, pod, main, kinds } = objects(spec(ha, { replicas: "2" }));
    assert.equal(deployment?.spec?.replicas, 2);
    assert.equal(
      pod?.initContainers,
      undefined,
      "no init container: only the holder adds the address",
    );
    assert.deepEqual(main.args, ["ha", "run"]);
    const env = envOf(main);
    assert.equal(env["EGRESS_HA_ELECTION"], "keepalived");
    assert.equal(env["EGRESS_HA_VRID"], "42");
    assert.equal(env["EGRESS_ROUTER_MODE"], undefined);
    assert.equal(env["EGRESS_DESTINATION_FILE"], "/etc/egress-router/destination");
    assert.deepEqual(main.readinessProbe?.httpGet?.path, "/readyz");
    assert.equal(main.readinessProbe?.periodSeconds, 1);
    assert.deepEqual(main.securityContext?.capabilities, {
      drop: ["ALL"],
      add: ["NET_ADMIN", "NET_RAW"],
    });
    assert.ok(kinds.includes("PodDisruptionBudget"));
  });

  it("one replica per node, and a budget that protects the holder but lets standbys go", () => {
    const { pod, all } = objects(spec(ha, { replicas: "2" }));
    assert.deepEqual(
      pod?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution,
      [
        {
          labelSelector: {
            matchLabels: {
              "app.kubernetes.io/name": "egress-router",
              "app.kubernetes.io/instance": "egress-router",
            },
          },
          topologyKey: "kubernetes.io/hostname",
        },
      ],
    );
    const pdb = all.find((o) => o.kind === "PodDisruptionBudget") as { spec?: object } | undefined;
    assert.deepEqual(pdb?.spec, {
      minAvailable: 1,
      selector: {
        matchLabels: {
          "app.kubernetes.io/name": "egress-router",
          "app.kubernetes.io/instance": "egress-router",
        },
      },
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    });
  });

  it("Multus gives no address from IPAM: the holder has it, not every replica", () => {
    const { nad } = objects(spec(ha, { ...multus, replicas: "2" }));
    assert.deepEqual((JSON.parse(nad?.spec.config ?? "{}") as { ipam?: object }).ipam, {});
  });

  it("one replica stays the single-replica form", () => {
    const { pod, kinds } = objects(spec(ha));
    assert.ok(pod?.initContainers?.length === 1);
    assert.ok(!kinds.includes("PodDisruptionBudget"));
    assert.equal(pod?.affinity, undefined);
  });

  const refused: [string, Record<string, string>, Record<string, string>, string][] = [
    [
      "a proxy",
      http,
      { replicas: "2" },
      "--replicas: Cannot run 2 replicas of an HTTP proxy: only redirect mode has an active/standby form (egress-router ha run, docs/ha.md); use --replicas 1",
    ],
    [
      "no virtual router id",
      redirect,
      { replicas: "2" },
      'EGRESS_HA_VRID: Cannot use "": keepalived election needs a virtual router id; set EGRESS_HA_VRID to a number from 1 to 255 that no other VRRP router on the egress LAN uses, the same on every replica',
    ],
    [
      "election none",
      { ...ha, EGRESS_HA_ELECTION: "none" },
      { replicas: "2" },
      'EGRESS_HA_ELECTION: Cannot run 2 replicas with election "none": only one pod may hold the source address; unset it (the replicas elect the holder with keepalived) or use --replicas 1',
    ],
    [
      "unicast peers",
      { ...ha, EGRESS_HA_PEERS: "192.0.2.11,192.0.2.12" },
      { replicas: "2" },
      "EGRESS_HA_PEERS: Cannot use unicast peers in generated manifests: the replicas share one pod template, so none has an address of its own on the egress LAN; leave it empty (VRRP over IPv6 link-local multicast)",
    ],
    [
      "a number out of range",
      ha,
      { replicas: "12" },
      '--replicas: Cannot run "12": not a number of replicas; use 1 (one router pod) or 2 to 9 (an active/standby set, one pod per node)',
    ],
  ];
  for (const [name, env, options, message] of refused) {
    it(`refuses ${name}`, () => {
      const { spec: s, problems } = trySpec(env, options);
      assert.equal(s, undefined);
      assert.deepEqual(
        problems.map((p) => p.message),
        [message],
      );
    });
  }
});

// The schema check itself must be able to fail: broken objects of each kind the generator
// writes, each with the error the schema gives.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { schemaErrors } from "./helpers/kubernetes-schema.ts";

const meta = { name: "egress-router", namespace: "payments" };
const pod = {
  containers: [{ name: "redirect", image: "registry.example.com/egress-router:0.1.0" }],
};
const deployment = (spec: object) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: meta,
  spec: {
    selector: { matchLabels: { a: "b" } },
    template: { metadata: { labels: { a: "b" } }, spec: pod },
    ...spec,
  },
});

describe("schemaErrors finds what the API server would refuse", () => {
  const cases: [string, object, string[]][] = [
    ["a valid Deployment", deployment({ replicas: 1, strategy: { type: "Recreate" } }), []],
    [
      "a strategy that does not exist",
      deployment({ strategy: { type: "Rolling" } }),
      ["/spec/strategy/type must be equal to one of the allowed values"],
    ],
    ["replicas as a string", deployment({ replicas: "1" }), ["/spec/replicas must be integer"]],
    [
      "a Deployment without a template",
      { apiVersion: "apps/v1", kind: "Deployment", metadata: meta, spec: { selector: {} } },
      ["/spec must have required property template"],
    ],
    [
      "a Service port as a string",
      { apiVersion: "v1", kind: "Service", metadata: meta, spec: { ports: [{ port: "80" }] } },
      ["/spec/ports/0/port must be integer"],
    ],
    [
      "a ConfigMap value that is a number",
      { apiVersion: "v1", kind: "ConfigMap", metadata: meta, data: { destination: 80 } },
      ["/data/destination must be string"],
    ],
    [
      "a NetworkPolicy peer that is not an object",
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: meta,
        spec: { podSelector: {}, ingress: [{ from: ["shop"] }] },
      },
      ["/spec/ingress/0/from/0 must be object"],
    ],
    [
      "a NetworkAttachmentDefinition without config",
      {
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: meta,
        spec: {},
      },
      ["/spec must have required property 'config'"],
    ],
    [
      "a NetworkAttachmentDefinition with a misspelt field",
      {
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: meta,
        spec: { config: "{}", confg: "{}" },
      },
      ["/spec must NOT have additional properties"],
    ],
    [
      "a kind without a schema",
      { apiVersion: "v1", kind: "Pod2", metadata: meta },
      ["v1/Pod2: no schema known for this kind"],
    ],
  ];
  for (const [name, object, errors] of cases) {
    it(name, () => assert.deepEqual(schemaErrors(object), errors));
  }
});

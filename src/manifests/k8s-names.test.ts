import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkImage,
  checkLabelKey,
  checkLabelValue,
  checkNamespace,
  checkQuantity,
  checkRouterName,
} from "./k8s-names.ts";

// Each check: values it must accept, values it must refuse.
const cases: [string, (v: string) => string | undefined, string[], string[]][] = [
  [
    "router name",
    checkRouterName,
    ["egress-router", "e", "a".repeat(63)],
    ["Egress", "1egress", "egress-", "egress_1", "a".repeat(64), ""],
  ],
  [
    "namespace",
    checkNamespace,
    ["payments", "1shop", "a".repeat(63)],
    ["Payments", "-x", "x-", "a.b", "a".repeat(64), ""],
  ],
  [
    "label key",
    checkLabelKey,
    ["team", "example.com/team", "app.kubernetes.io/part-of", "a_b.c-d"],
    ["a/b/c", "-team", "Example.com/team", "", `${"a".repeat(64)}`],
  ],
  [
    "label value",
    checkLabelValue,
    ["payments", "", "v1.2_3-x"],
    ["bad value", "-x", "x.", "a".repeat(64)],
  ],
  [
    "quantity",
    checkQuantity,
    ["100m", "0.5", "64Mi", "1Gi", "2", "1e3", "1.5G"],
    ["lots", "0", "0m", "-1", "64 Mi", "1mi", ""],
  ],
  [
    "image",
    checkImage,
    [
      "egress-router",
      "registry.example.com/egress-router:0.1.0",
      "registry.example.com:5000/team/egress-router@sha256:" + "a".repeat(64),
      "localhost/egress_router:v1",
    ],
    ["Bad Image", "registry.example.com/Egress", "egress-router:", "egress-router@sha256:abc", ""],
  ],
];

describe("Kubernetes naming rules for manifests options", () => {
  for (const [name, check, good, bad] of cases) {
    it(`${name}: accepts ${good.length}, refuses ${bad.length}`, () => {
      for (const v of good) assert.equal(check(v), undefined, `accepts "${v}"`);
      for (const v of bad) assert.notEqual(check(v), undefined, `refuses "${v}"`);
    });
  }
});

// Validation of generated objects against the real Kubernetes schemas, the substitute for an
// API server (none runs here):
// - built-in kinds against the OpenAPI schemas of Kubernetes that the maintained
//   `kubernetes-models` package compiles (types, required fields, enums, formats);
// - custom resources against their CustomResourceDefinition's openAPIV3Schema (shipped in
//   test/schemas/ with their source), with the API server's defaulting, and strict about
//   unknown fields as `kubectl apply --validate=strict` is.
// The OpenAPI schemas do not forbid unknown fields of built-in kinds; the builders are typed
// with kubernetes-models' interfaces, so an unknown field there fails to compile instead.
import { readFileSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsPlugin from "ajv-formats";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { parse } from "yaml";

const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;

interface Validatable {
  validate(): void;
}
const builtIn: Record<string, (o: object) => Validatable> = {
  "v1/ServiceAccount": (o) => new ServiceAccount(o),
  "v1/ConfigMap": (o) => new ConfigMap(o),
  "v1/Service": (o) => new Service(o),
  "apps/v1/Deployment": (o) => new Deployment(o),
  "networking.k8s.io/v1/NetworkPolicy": (o) => new NetworkPolicy(o),
  "policy/v1/PodDisruptionBudget": (o) => new PodDisruptionBudget(o),
};

type Schema = Record<string, unknown>;

const combinators = new Set(["oneOf", "anyOf", "allOf", "not"]);

/**
 * Unknown fields are errors wherever the schema lists properties and does not keep unknown
 * ones. Schemas under oneOf/anyOf/allOf/not only constrain values (Kubernetes' structural
 * schema rule), so their property lists are not the object's fields and stay as they are.
 */
function strict(schema: Schema, inCombinator = false): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith("x-kubernetes-")) continue;
    const under = inCombinator || combinators.has(k);
    if (Array.isArray(v)) {
      out[k] = v.map((x: unknown) => (typeof x === "object" && x ? strict(x as Schema, under) : x));
    } else if (typeof v === "object" && v !== null && k !== "default" && k !== "enum") {
      out[k] =
        k === "properties"
          ? Object.fromEntries(
              Object.entries(v as Schema).map(([p, s]) => [p, strict(s as Schema, inCombinator)]),
            )
          : strict(v as Schema, under);
    } else out[k] = v;
  }
  const keepsUnknown = schema["x-kubernetes-preserve-unknown-fields"] === true;
  if (!inCombinator && schema["properties"] !== undefined && !keepsUnknown) {
    out["additionalProperties"] = false;
  }
  if (out["nullable"] === true) {
    delete out["nullable"];
    if (typeof out["type"] === "string") out["type"] = [out["type"], "null"];
  }
  return out;
}

interface Crd {
  spec: {
    group: string;
    names: { kind: string };
    versions: { name: string; schema: { openAPIV3Schema: Schema } }[];
  };
}

const ajv = addFormats(new Ajv({ allErrors: true, strict: false, useDefaults: true }));
const crdValidators = new Map<string, ValidateFunction>();

/** Registers a CRD file from test/schemas/; its kinds then validate like built-in ones. */
export function loadCrd(file: string): void {
  const crd = parse(readFileSync(new URL(`../schemas/${file}`, import.meta.url), "utf8")) as Crd;
  for (const v of crd.spec.versions) {
    crdValidators.set(
      `${crd.spec.group}/${v.name}/${crd.spec.names.kind}`,
      ajv.compile(strict(v.schema.openAPIV3Schema)),
    );
  }
}
loadCrd("network-attachment-definitions.k8s.cni.cncf.io.crd.yaml");
loadCrd("egressrouters.network.operator.openshift.io.crd.yaml");

/** Schema errors of one object, as `<path> <message>` lines; empty when it is valid. */
export function schemaErrors(object: unknown): string[] {
  const o = object as { apiVersion?: unknown; kind?: unknown };
  const key = `${String(o.apiVersion)}/${String(o.kind)}`;
  const crd = crdValidators.get(key);
  if (crd) {
    // The API server defaults before it validates; so does this (on a copy).
    const copy: unknown = structuredClone(object);
    return crd(copy)
      ? []
      : (crd.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? e.keyword}`);
  }
  const make = builtIn[key];
  if (!make) return [`${key}: no schema known for this kind`];
  try {
    make(object as object).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: { instancePath: string; message?: string }[] }).errors;
    return errors
      ? errors.map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`)
      : [(err as Error).message];
  }
}

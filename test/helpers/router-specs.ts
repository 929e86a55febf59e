// RouterSpecs for tests, made the way the manifests command makes them: variables and options
// through the router's own grammars, so fixtures cannot drift from what the CLI produces.
import type { ConfigProblem } from "../../src/config/config-error.ts";
import { readEgressRouter } from "../../src/manifests/egress-router-resource.ts";
import { readManifestOptions, type OptionValues } from "../../src/manifests/manifest-options.ts";
import { readRouterSpec } from "../../src/manifests/read-router-spec.ts";
import type { RouterSpec } from "../../src/manifests/router-spec.ts";

export const image = "registry.example.com/egress-router:0.1.0";
export const v4 = { EGRESS_SOURCE: "192.0.2.99/24", EGRESS_GATEWAY: "192.0.2.1" };
export const v6 = { EGRESS_SOURCE: "2001:db8:1::99/64", EGRESS_GATEWAY: "2001:db8:1::1" };

/** Problems of a run, or the spec; `options` are the manifests command's own options. */
export function trySpec(
  env: Record<string, string>,
  options: OptionValues = {},
  resourceYaml?: string,
): { spec: RouterSpec | undefined; problems: ConfigProblem[] } {
  const o = readManifestOptions({ image, ...options });
  const problems = [...o.problems];
  let resource;
  if (resourceYaml !== undefined) {
    const r = readEgressRouter(resourceYaml, "egressrouter.yaml");
    problems.push(...r.problems);
    resource = r.value;
    if (!resource) return { spec: undefined, problems };
  }
  const s = readRouterSpec(env, {}, o.options, resource);
  problems.push(...s.problems);
  // As the command does: any problem, no spec.
  return { spec: problems.length > 0 ? undefined : s.spec, problems };
}

export function spec(
  env: Record<string, string>,
  options: OptionValues = {},
  resourceYaml?: string,
): RouterSpec {
  const { spec: s, problems } = trySpec(env, options, resourceYaml);
  if (!s) throw new Error(`fixture does not build: ${problems.map((p) => p.message).join(" | ")}`);
  return s;
}

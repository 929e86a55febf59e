// The rules as a ConfigMap. Mounted as a directory (never with subPath, which Kubernetes does
// not update), so an edited ConfigMap reaches the running router, which reloads it.
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { SettingSpec } from "../config/catalogue.ts";
import { settings } from "../config/catalogue.ts";
import { fileEnvName } from "../config/read-setting.ts";
import { configMapName, objectMeta } from "./object-meta.ts";
import type { RouterKind, RouterSpec } from "./router-spec.ts";
import { rulesMountPath } from "./router-spec.ts";

export function rulesSetting(kind: RouterKind): SettingSpec {
  switch (kind) {
    case "redirect":
      return settings.destination;
    case "http-proxy":
      return settings.httpProxyDestination;
    case "dns-proxy":
      return settings.dnsProxyDestination;
  }
}

/** The ConfigMap key (and file name) of a mode's rules: the setting's flag name. */
export function rulesFileKey(kind: RouterKind): string {
  return rulesSetting(kind).flag;
}

/** `EGRESS_…_FILE=/etc/egress-router/<key>`: how the router finds the mounted rules. */
export function rulesFileEnv(kind: RouterKind): { name: string; value: string } {
  return {
    name: fileEnvName(rulesSetting(kind)),
    value: `${rulesMountPath}/${rulesFileKey(kind)}`,
  };
}

export function buildConfigMap(spec: RouterSpec): IConfigMap {
  const text = spec.rules.text.endsWith("\n") ? spec.rules.text : `${spec.rules.text}\n`;
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: objectMeta(spec, configMapName(spec)),
    data: { [rulesFileKey(spec.rules.kind)]: text },
  };
}

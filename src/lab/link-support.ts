// Whether this kernel can make the lab's egress interface of a given type.
import { existsSync, readFileSync } from "node:fs";
import type { EgressLinkType } from "./topology.ts";

/**
 * Why this kernel cannot give the lab an egress interface of this type, or undefined when it
 * can. ipvlan is a kernel option (CONFIG_IPVLAN) that some kernels leave out; the kernel loads
 * the module itself when a link is created, so a module on disk is as good as a loaded one.
 */
export function egressLinkUnsupportedReason(link: EgressLinkType): string | undefined {
  if (link !== "ipvlan") return undefined;
  if (existsSync("/sys/module/ipvlan")) return undefined;
  const release = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  for (const list of ["modules.builtin", "modules.dep"]) {
    try {
      if (/\/ipvlan\.ko/.test(readFileSync(`/lib/modules/${release}/${list}`, "utf8")))
        return undefined;
    } catch {
      // no such list: a kernel without modules
    }
  }
  return `the kernel (${release}) has no ipvlan support (neither built in nor a module)`;
}

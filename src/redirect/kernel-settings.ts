// Kernel settings under /proc/sys, read and written directly (no sysctl(8) needed: the
// image runs without PATH and may lack procps). /proc/sys/net belongs to the network
// namespace of the process, so this touches the router pod's settings only.
import { readFile, writeFile } from "node:fs/promises";
import type { Sysctl } from "./plan.ts";
import { sysctlName } from "./plan.ts";

export interface KernelSettings {
  /** the current value, trimmed; undefined when the setting does not exist */
  read(s: Sysctl): Promise<string | undefined>;
  write(s: Sysctl, value: string): Promise<void>;
}

/** Settings under /proc/sys (or another root, for tests). */
export function procSysSettings(root = "/proc/sys"): KernelSettings {
  const file = (s: Sysctl) => `${root}/${s.path.join("/")}`;
  return {
    async read(s) {
      try {
        return (await readFile(file(s), "utf8")).trim();
      } catch {
        return undefined;
      }
    },
    async write(s, value) {
      try {
        await writeFile(file(s), `${value}\n`);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? "error";
        const state =
          code === "EROFS"
            ? "/proc/sys is read-only in this container"
            : code === "EACCES" || code === "EPERM"
              ? "permission denied"
              : code === "ENOENT"
                ? "the kernel has no such setting (is the interface there?)"
                : (err as Error).message;
        throw new Error(
          `Cannot set ${sysctlName(s)} to ${value}: ${state}; run the router privileged (OpenShift: privileged: true), or set it in the pod's securityContext.sysctls`,
          { cause: err },
        );
      }
    },
  };
}

/** In-memory settings for unit tests. */
export function memoryKernelSettings(initial: Record<string, string> = {}): KernelSettings & {
  readonly values: Map<string, string>;
} {
  const values = new Map(Object.entries(initial));
  return {
    values,
    read: (s) => Promise.resolve(values.get(sysctlName(s))),
    write: (s, value) => {
      values.set(sysctlName(s), value);
      return Promise.resolve();
    },
  };
}

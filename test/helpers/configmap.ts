// A ConfigMap volume, done for real in a temporary directory: the kubelet writes each
// version into a timestamped directory, points `..data_tmp` at it and renames that over
// `..data` (one atomic rename), and every key is a symlink `<key> -> ..data/<key>`.
import { mkdtemp, mkdir, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ConfigMapDir {
  readonly dir: string;
  /** the path a pod would be given, e.g. /etc/egress/rules */
  path(key: string): string;
  /** publishes a new version of every key at once, as the kubelet does */
  update(data: Readonly<Record<string, string>>): Promise<void>;
  remove(): Promise<void>;
}

export async function createConfigMapDir(
  data: Readonly<Record<string, string>>,
): Promise<ConfigMapDir> {
  const dir = await mkdtemp(join(tmpdir(), "egress-configmap-"));
  let version = 0;
  const update = async (next: Readonly<Record<string, string>>) => {
    version += 1;
    const versionDir = `..${new Date().toISOString().replace(/[-:.]/g, "_")}.${version}`;
    await mkdir(join(dir, versionDir));
    for (const [k, v] of Object.entries(next)) await writeFile(join(dir, versionDir, k), v);
    let previous: string | undefined;
    try {
      previous = await readlink(join(dir, "..data"));
    } catch {
      previous = undefined;
    }
    await symlink(versionDir, join(dir, "..data_tmp"));
    await rename(join(dir, "..data_tmp"), join(dir, "..data"));
    for (const k of Object.keys(next)) {
      try {
        await symlink(join("..data", k), join(dir, k));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
    if (previous) await rm(join(dir, previous), { recursive: true, force: true });
  };
  await update(data);
  return {
    dir,
    path: (key) => join(dir, key),
    update,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

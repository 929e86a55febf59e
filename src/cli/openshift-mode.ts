// OpenShift mode: no sub-command; the EGRESS_* variables select which original image we act as.
import type { Env } from "../config/read-setting.ts";

export async function runOpenShiftMode(_env: Env): Promise<number> {
  const { usage } = await import("./main.ts");
  process.stderr.write(usage());
  return 2;
}

// Deadlines that follow progress instead of the wall clock. On a busy shared machine a child
// process can take many times longer than usual to start (node compiling its sources while a
// dozen other processes want the same two CPUs), and a fixed deadline then fails a test
// that was only slow. These wait as long as the process keeps making progress (its CPU time
// grows, or it writes something), and give up when it stops making progress for a while, when
// it exits, or after a very long cap.
import { readFileSync } from "node:fs";

/** CPU time a process has used so far (its threads and its finished children), in ticks. */
export function cpuTicks(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    // utime, stime, cutime, cstime are fields 14 to 17 of the whole line.
    return [11, 12, 13, 14].reduce((n, i) => n + Number(fields[i] ?? 0), 0);
  } catch {
    return undefined; // gone
  }
}

export interface ProgressWait {
  /** what is awaited, for the error message */
  readonly what: string;
  /** the process whose CPU time counts as progress */
  readonly pid?: number | undefined;
  /** anything else that counts as progress when it changes (e.g. lines of output so far) */
  readonly activity?: () => number;
  /** true once the process has exited: then waiting is pointless */
  readonly exited?: () => boolean;
  /** give up after this long without progress (default 30 s) */
  readonly stallMs?: number;
  /** give up after this long in any case (default 2 min) */
  readonly capMs?: number;
}

/** Resolves once `check()` holds; rejects when the process exits, stalls, or at the cap. */
export async function waitWhileProgressing(
  check: () => boolean | Promise<boolean>,
  w: ProgressWait,
): Promise<void> {
  const stallMs = w.stallMs ?? 30_000;
  const started = Date.now();
  const capAt = started + (w.capMs ?? 120_000);
  let last = progressOf(w);
  let lastChange = started;
  for (;;) {
    if (await check()) return;
    const now = Date.now();
    if (w.exited?.() === true) throw new Error(`${w.what}: the process exited first`);
    const p = progressOf(w);
    if (p !== last) {
      last = p;
      lastChange = now;
    } else if (now - lastChange > stallMs) {
      throw new Error(`${w.what}: no progress for ${stallMs} ms (${now - started} ms in all)`);
    }
    if (now > capAt) throw new Error(`${w.what}: not within ${now - started} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function progressOf(w: ProgressWait): string {
  return `${cpuTicks(w.pid) ?? "gone"}/${w.activity?.() ?? 0}`;
}

// Tells the daemon when rule files may have changed. A ConfigMap volume updates by writing
// a new `..data_tmp` directory and renaming it over the `..data` symlink, so a watch on
// the file itself goes stale after the first update: we watch the *directory* that holds
// the path as configured, debounce the burst of events one update makes, and let the
// caller compare content. Other files in that directory may change all the time (a log file
// kept next to the rules): the debounce waits for a quiet moment, but never longer than
// `maxWaitMs` after the first event of a burst, or such a neighbour would hold every reload
// back until the next poll. A slow poll is the safety net for file systems where watching
// misses events (network volumes) and re-arms a watch whose directory went away.
import { watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { dirname } from "node:path";

export type FileChangeTrigger = "watch" | "poll";

export interface WatchOptions {
  /** quiet time after the last event before `onChange` runs */
  readonly debounceMs: number;
  /** the longest a burst of events delays `onChange`; default 4 x debounceMs */
  readonly maxWaitMs?: number;
  /** safety-net poll interval; 0 turns polling off */
  readonly pollMs: number;
  /** a directory cannot be watched (missing, permissions); polling goes on */
  readonly onError: (directory: string, error: Error) => void;
}

export interface FileWatch {
  close(): void;
}

/** Watches the directories holding `paths`; calls `onChange` after each debounced burst. */
export function watchFiles(
  paths: readonly string[],
  onChange: (trigger: FileChangeTrigger) => void,
  options: WatchOptions,
): FileWatch {
  const directories = [...new Set(paths.map((p) => dirname(p)))];
  const watchers = new Map<string, FSWatcher>();
  const failing = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let burstStart = 0;
  let closed = false;
  const maxWaitMs = options.maxWaitMs ?? options.debounceMs * 4;

  const fire = () => {
    if (closed) return;
    const now = Date.now();
    if (timer === undefined) burstStart = now;
    else if (now - burstStart >= maxWaitMs)
      return; // the pending run is kept: it fires soon
    else clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed) onChange("watch");
    }, options.debounceMs);
    timer.unref();
  };

  const arm = (dir: string): void => {
    if (closed || watchers.has(dir)) return;
    try {
      const w = watch(dir, { persistent: false }, fire);
      w.on("error", (err) => {
        w.close();
        watchers.delete(dir);
        if (!failing.has(dir)) options.onError(dir, err);
        failing.add(dir);
        fire();
      });
      watchers.set(dir, w);
      if (failing.delete(dir)) fire(); // came back: re-read what may have changed meanwhile
    } catch (err) {
      if (!failing.has(dir)) options.onError(dir, err as Error);
      failing.add(dir);
    }
  };
  for (const d of directories) arm(d);

  const poll =
    options.pollMs > 0
      ? setInterval(() => {
          for (const d of directories) arm(d);
          if (!closed) onChange("poll");
        }, options.pollMs)
      : undefined;
  poll?.unref();

  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (poll) clearInterval(poll);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

// Where log lines go: straight to a file descriptor (stdout), in batches. Lines written during
// one turn of the event loop leave together at the end of the turn, in writes of at most
// PIPE_BUF bytes cut at line ends. A write of PIPE_BUF bytes or less to a pipe is atomic, so
// several threads can each own a writer on the same descriptor (a container's stdout is a
// pipe) and their lines never interleave inside a line. One write per turn instead of one per
// line is what keeps a log line per connection affordable at tens of thousands of connections
// per second.
//
// A reader that stops reading (a stuck log pipeline) must not stop the router or fill its
// memory: when the descriptor would block, lines wait and are retried; past `maxPendingBytes`
// new lines are dropped and counted, and `onDropped` is told once the backlog has drained.
import { writeSync } from "node:fs";

/** POSIX guarantees at least 512; Linux's is 4096. */
export const PIPE_BUF = 4096;
const RETRY_MS = 5;
/** how long the final synchronous flush waits for a blocked reader before giving up */
const EXIT_WAIT_MS = 2_000;

export interface LineWriter {
  /** one or more whole lines, each ending in "\n" */
  write(lines: string): void;
  /** writes what is pending now (synchronously, as far as the descriptor takes it) */
  flush(): void;
  /** lines dropped since start because the backlog was full */
  readonly dropped: number;
}

export interface LineWriterOptions {
  readonly fd?: number;
  readonly maxPendingBytes?: number;
  /** told how many lines were dropped, once the backlog has drained again */
  readonly onDropped?: (count: number) => void;
  /** the syscall; tests replace it to play a blocked or failing reader */
  readonly writeFn?: (fd: number, data: Buffer) => number;
}

function isWouldBlock(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === "EAGAIN" || code === "EWOULDBLOCK";
}

const exitFlushes = new Set<() => void>();
function flushAllAtExit() {
  for (const f of exitFlushes) f();
}

export function createLineWriter(options: LineWriterOptions = {}): LineWriter {
  const fd = options.fd ?? 1;
  const maxPending = options.maxPendingBytes ?? 8 * 1024 * 1024;
  const writeFn = options.writeFn ?? ((f: number, d: Buffer) => writeSync(f, d));
  let pending: string[] = [];
  let pendingBytes = 0;
  // a chunk the descriptor took part of (only possible for lines longer than PIPE_BUF)
  let partial: Buffer | undefined;
  let scheduled = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let dropped = 0;
  let droppedUnreported = 0;
  let broken = false;

  const schedule = () => {
    if (scheduled || retryTimer) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      flush();
    });
  };

  /** false when the descriptor would block: the caller keeps the rest for later */
  const writeAll = (buf: Buffer): boolean => {
    let off = 0;
    while (off < buf.length) {
      let n: number;
      try {
        n = writeFn(fd, off === 0 ? buf : buf.subarray(off));
      } catch (err) {
        if (isWouldBlock(err)) {
          partial = off === 0 ? buf : buf.subarray(off);
          return false;
        }
        // EPIPE or a closed descriptor: nobody reads our logs any more. Keep routing.
        broken = true;
        return true;
      }
      off += n;
    }
    return true;
  };

  const flush = () => {
    if (broken) {
      pending = [];
      pendingBytes = 0;
      return;
    }
    if (partial) {
      const p = partial;
      partial = undefined;
      if (!writeAll(p)) return retryLater();
    }
    let i = 0;
    while (i < pending.length) {
      // take whole lines up to PIPE_BUF bytes (a longer line goes alone)
      let bytes = 0;
      let units = 0;
      let end = i;
      while (end < pending.length) {
        const line = pending[end]!;
        const b = Buffer.byteLength(line);
        if (end > i && bytes + b > PIPE_BUF) break;
        bytes += b;
        units += line.length;
        end++;
      }
      const chunk = end === i + 1 ? pending[i]! : pending.slice(i, end).join("");
      i = end;
      pendingBytes -= units;
      if (!writeAll(Buffer.from(chunk))) {
        pending = pending.slice(i);
        return retryLater();
      }
      if (broken) break;
    }
    pending = [];
    if (droppedUnreported > 0) {
      const n = droppedUnreported;
      droppedUnreported = 0;
      options.onDropped?.(n);
    }
  };

  const retryLater = () => {
    if (retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      flush();
    }, RETRY_MS);
  };

  // Whatever is still pending when the thread or process ends is written before it goes,
  // waiting a bounded time for a slow reader.
  const finalFlush = () => {
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = undefined;
    const deadline = Date.now() + EXIT_WAIT_MS;
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    flush();
    while ((partial || pending.length > 0) && !broken && Date.now() < deadline) {
      Atomics.wait(sleeper, 0, 0, 1);
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      flush();
    }
  };
  exitFlushes.add(finalFlush);
  if (exitFlushes.size === 1) process.once("exit", flushAllAtExit);

  return {
    write(lines: string) {
      if (broken) return;
      const b = lines.length; // UTF-16 units: near enough to bytes for the backlog bound
      if (pendingBytes + b > maxPending) {
        dropped++;
        droppedUnreported++;
        return;
      }
      pending.push(lines);
      pendingBytes += b;
      schedule();
    },
    flush: finalFlush,
    get dropped() {
      return dropped;
    },
  };
}

// The client connections open in all the proxy's threads together, against one limit: an
// Int32Array on shared memory, slot 0 the total and slot 1 + i what thread i holds, so that
// the total can be corrected when a thread ends without closing its connections itself.
// Without shared memory (one thread) it is a plain number.

/** Slots a shared count needs for `threads` threads. */
export function connectionCountBytes(threads: number): number {
  return Int32Array.BYTES_PER_ELEMENT * (1 + threads);
}

export interface ConnectionCount {
  /** Counts one more connection unless `max` are open; false: refuse it. */
  tryOpen(max: number): boolean;
  closed(): void;
}

export function localConnectionCount(): ConnectionCount {
  let open = 0;
  return {
    tryOpen(max) {
      if (open >= max) return false;
      open++;
      return true;
    },
    closed() {
      open--;
    },
  };
}

export function sharedConnectionCount(buffer: SharedArrayBuffer, thread: number): ConnectionCount {
  const a = new Int32Array(buffer);
  const mine = 1 + thread;
  return {
    tryOpen(max) {
      if (Atomics.add(a, 0, 1) >= max) {
        Atomics.sub(a, 0, 1);
        return false;
      }
      Atomics.add(a, mine, 1);
      return true;
    },
    closed() {
      Atomics.sub(a, mine, 1);
      Atomics.sub(a, 0, 1);
    },
  };
}

/** A thread ended: what it still held no longer counts. Call once it has stopped running. */
export function releaseThreadConnections(buffer: SharedArrayBuffer, thread: number): void {
  const a = new Int32Array(buffer);
  const held = Atomics.exchange(a, 1 + thread, 0);
  Atomics.sub(a, 0, held);
}

/** Connections counted for all threads together. */
export function openConnections(buffer: SharedArrayBuffer): number {
  return Atomics.load(new Int32Array(buffer), 0);
}

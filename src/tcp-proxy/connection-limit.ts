// The connection limit, shared by every thread that forwards: one counter in shared memory,
// so the limit holds for the process as a whole however the kernel spreads connections.

export class ConnectionLimit {
  readonly max: number;
  readonly #count: Int32Array;

  /** `shared`: the memory of another thread's ConnectionLimit (from `.memory`), or a new one. */
  constructor(max: number, shared?: SharedArrayBuffer) {
    this.max = max;
    this.#count = new Int32Array(shared ?? new SharedArrayBuffer(4));
  }

  get memory(): SharedArrayBuffer {
    return this.#count.buffer as SharedArrayBuffer;
  }

  /** Takes a slot; false when all `max` are taken. */
  acquire(): boolean {
    if (Atomics.add(this.#count, 0, 1) < this.max) return true;
    Atomics.sub(this.#count, 0, 1);
    return false;
  }

  release(): void {
    Atomics.sub(this.#count, 0, 1);
  }

  get open(): number {
    return Atomics.load(this.#count, 0);
  }
}

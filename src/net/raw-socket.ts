// A TCP connection on Node's handle (net/raw-tcp.ts) with just what a request/response proxy
// needs: reads handed to one function, writes with backpressure, a batch of writes in one
// system call (cork/uncork), half-close, reset, pause/resume, byte counts. No streams, no
// events, no timers: for a proxy on small keep-alive requests, net.Socket's stream machinery
// (a push and an emit per read, a write request, a tick and a timer refresh per write) costs
// more CPU than the rest of the request path together (measured with bench/http-proxy.ts).
//
// The owner gives a table of handlers, module-level functions called with the socket as
// `this` (no closure per connection), and may swap it when the connection changes role.
// `close` is called once, after the handle is closed, whatever ended it. Like net.Socket with
// allowHalfOpen, a socket closes itself once both directions have ended.
import type { TcpHandle, WriteReq, ShutdownReq } from "./raw-tcp.ts";
import {
  ShutdownWrap,
  UV_EOF,
  WriteWrap,
  errorName,
  lastWriteWasAsync,
  peerText,
  readResult,
} from "./raw-tcp.ts";
import { getSystemErrorName } from "node:util";

// Where in the ArrayBuffer of a read the bytes start (raw-tcp.ts has checked the binding).
const streamState = (
  process as unknown as {
    binding(name: string): { streamBaseState: Int32Array; kArrayBufferOffset: number };
  }
).binding("stream_wrap");
const offsetSlot = streamState.kArrayBufferOffset;
const readOffset = (): number => streamState.streamBaseState[offsetSlot] ?? 0;

/** The stream methods of the handle that raw-tcp.ts does not declare. */
type StreamHandle = TcpHandle & {
  writeLatin1String(req: WriteReq, data: string): number;
  useUserBuffer(buffer: Uint8Array): void;
  writev(req: WriteReq, chunks: (string | Uint8Array)[], allBuffers: boolean): number;
  owner?: RawSocket;
};

type Req = WriteReq & {
  socket?: RawSocket;
  chunks?: (string | Uint8Array)[] | null;
  /** the read buffers whose bytes this write still holds */
  leases?: Lease[] | null;
};
type ShutReq = ShutdownReq & { socket?: RawSocket };

export interface SocketHandlers {
  /** bytes read; the chunk may be kept (a fresh buffer per read) */
  data(this: RawSocket, chunk: Buffer): void;
  /** the peer sent FIN; reading has stopped */
  end(this: RawSocket): void;
  /** everything written has left (after write() returned false) */
  drain(this: RawSocket): void;
  /** a read, write or shutdown failed (`code` as "ECONNRESET"); close follows */
  error(this: RawSocket, code: string): void;
  /** the handle is closed; called once */
  close(this: RawSocket): void;
}

/** Handlers for a socket nobody listens to (about to be handed over, or only written to). */
export const noHandlers: SocketHandlers = {
  data() {},
  end() {},
  drain() {},
  error() {},
  close() {},
};

/** The thread's read buffer for sockets that read through it (sharedReadBuffer). */
let shared: Buffer | undefined;
const SHARED_READ_BYTES = 64 * 1024;
/**
 * The largest own read buffer: bulk transfers make fewer, larger reads. Through CONNECT
 * every read of 128 KiB came back full; with 512 KiB the CPU per GB fell by about 15 %.
 */
export const MAX_READ_BYTES = 512 * 1024;

/** True when `chunk` lies in the shared read buffer: it must be copied to be kept. */
export function inSharedReadBuffer(chunk: Uint8Array): boolean {
  return shared !== undefined && chunk.buffer === shared.buffer;
}

/**
 * An own read buffer's bookkeeping: who reads into it, and how many writes in flight still
 * hold bytes of it. It can be read into again, or go back to the pool, only when none do.
 */
interface Lease {
  readonly buffer: Buffer;
  reader: RawSocket | undefined;
  writes: number;
}
const leases = new WeakMap<ArrayBufferLike, Lease>();
/** Free full-size read buffers of this thread, for bulk readers whose buffer is held. */
const pool: Buffer[] = [];
const POOL_MAX = 16;

function leaseOf(chunk: Uint8Array): Lease | undefined {
  return leases.get(chunk.buffer);
}

function newLease(size: number, reader: RawSocket, pooled: boolean): Lease {
  const buffer = (pooled ? pool.pop() : undefined) ?? Buffer.allocUnsafe(size);
  const lease: Lease = { buffer, reader, writes: 0 };
  leases.set(buffer.buffer, lease);
  return lease;
}

/** Nobody needs the buffer any more: full-size ones go back to the pool. */
function maybeFree(lease: Lease, full: number): void {
  if (lease.reader !== undefined || lease.writes > 0) return;
  leases.delete(lease.buffer.buffer);
  if (lease.buffer.length === full && pool.length < POOL_MAX) pool.push(lease.buffer);
}

/** A write went asynchronous: the read buffers its bytes lie in are held until it completes. */
function holdLeases(req: Req, chunks: (string | Uint8Array)[]): void {
  let held: Lease[] | null = null;
  for (const c of chunks) {
    if (typeof c === "string") continue;
    const lease = leaseOf(c);
    if (lease === undefined) continue;
    lease.writes++;
    (held ??= []).push(lease);
  }
  req.leases = held;
}

/** write() returns false from this many queued bytes on (net.Socket's default). */
export const WRITE_HIGH_WATER = 64 * 1024;

/** A write request kept for the next write when the last one completed at once. */
let spare: Req | undefined;

function takeReq(s: RawSocket): Req {
  const req: Req = spare ?? new WriteWrap();
  spare = undefined;
  req.handle = s.handle;
  req.oncomplete = onWritten;
  req.socket = s;
  return req;
}

/** After a write call: the request is in flight (kept by libuv) or free again. */
function afterWrite(s: RawSocket, req: Req, err: number, keep: (string | Uint8Array)[] | null) {
  if (err !== 0) {
    req.socket = undefined;
    spare = req;
    s.fail(errorName(err));
    return false;
  }
  if (lastWriteWasAsync()) {
    req.async = true;
    req.chunks = keep; // the bytes must live until the write completes
    if (keep !== null) holdLeases(req, keep);
    s.pendingWrites++;
    if (s.handle.writeQueueSize >= WRITE_HIGH_WATER) {
      s.needDrain = true;
      return false;
    }
    return true;
  }
  req.socket = undefined;
  spare = req;
  return true;
}

function onWritten(this: Req, status: number): void {
  const s = this.socket;
  this.socket = undefined;
  this.chunks = null;
  const held = this.leases;
  if (held) {
    this.leases = null;
    for (const lease of held) {
      lease.writes--;
      maybeFree(lease, MAX_READ_BYTES);
    }
  }
  if (s === undefined) return;
  s.pendingWrites--;
  if (s.destroyed) return;
  if (status < 0) {
    s.fail(errorName(status));
    return;
  }
  if (s.pendingWrites === 0 && s.needDrain) {
    s.needDrain = false;
    s.handlers.drain.call(s);
  }
}

function onShutdown(this: ShutReq, status: number): void {
  const s = this.socket;
  this.socket = undefined;
  if (s === undefined || s.destroyed) return;
  s.finished = true;
  if (status < 0) s.fail(errorName(status));
  // Both ways done (our FIN sent after everything written, theirs received): close.
  else if (s.readableEnded) s.destroy();
}

function onRead(this: StreamHandle, arrayBuffer: ArrayBuffer | undefined): Uint8Array | undefined {
  const s = this.owner;
  if (s === undefined || s.destroyed) return undefined;
  const n = readResult();
  if (n > 0) {
    s.bytesRead += n;
    const own = s.readBuffer;
    if (own === undefined) {
      if (arrayBuffer !== undefined)
        s.handlers.data.call(s, Buffer.from(arrayBuffer, readOffset(), n));
      return undefined;
    }
    s.handlers.data.call(s, own.subarray(0, n));
    // A handler that gave the socket a new buffer (a new owner) has chosen already.
    return s.readBuffer === own && !s.destroyed ? s.nextReadBuffer(n) : undefined;
  }
  if (n === 0) return undefined;
  if (n === UV_EOF) {
    s.readableEnded = true;
    this.readStop();
    s.handlers.end.call(s);
    if (s.finished) s.destroy(); // both ways done
    return undefined;
  }
  s.fail(errorName(n));
  return undefined;
}

function onClosed(this: StreamHandle): void {
  const s = this.owner;
  if (s === undefined) return;
  this.owner = undefined;
  s.closed = true;
  s.releaseReadBuffer();
  s.handlers.close.call(s);
}

function ignoreRead(): void {}

export class RawSocket {
  readonly handle: StreamHandle;
  handlers: SocketHandlers;
  /** whoever uses the socket (found from the handlers through `this`) */
  owner: unknown;
  bytesRead = 0;
  bytesWritten = 0;
  /** write requests libuv has not completed */
  pendingWrites = 0;
  /** write() returned false; `drain` follows when the queue is empty */
  needDrain = false;
  /** the peer sent FIN */
  readableEnded = false;
  /** end() was called: no more writes */
  writableEnded = false;
  /** our FIN has been sent */
  finished = false;
  destroyed = false;
  closed = false;
  paused = true;
  /** this socket's own read buffer (ownReadBuffer), reused while nothing holds its bytes */
  readBuffer: Buffer | undefined = undefined;
  private lease: Lease | undefined = undefined;
  /** set by a data handler that keeps the chunk beyond its call (other than by writing it) */
  kept = false;
  private readMin = 0;
  private corked: (string | Uint8Array)[] | undefined = undefined;

  constructor(handle: TcpHandle, handlers: SocketHandlers, owner: unknown) {
    this.handle = handle as StreamHandle;
    this.handlers = handlers;
    this.owner = owner;
    this.handle.owner = this;
    this.handle.onread = onRead as unknown as TcpHandle["onread"];
  }

  /**
   * Reads into a buffer of this socket's own instead of a fresh one per read (node's default
   * allocates 64 KiB per read and copies what came into a buffer of the right size): for
   * sockets that move bulk data. The buffer is reused unless a write in flight still holds
   * its bytes (or the handler set `kept`); then the next read goes to another buffer, from a
   * pool of full-size ones, and the held one returns to the pool when its writes complete:
   * no allocation per read, no garbage for the collector. Its size adapts between `min`
   * (small reads, idle connections) and MAX_READ_BYTES (a read filled it).
   */
  ownReadBuffer(min = 16 * 1024): void {
    this.readMin = min;
    if (this.destroyed) return;
    this.giveUpBuffer();
    this.lease = newLease(min, this, false);
    this.readBuffer = this.lease.buffer;
    this.handle.useUserBuffer(this.readBuffer);
  }

  /**
   * Reads into the thread's shared read buffer: no allocation and no copy per read, for
   * sockets with many small reads (requests). A chunk is only valid during the data handler:
   * whatever keeps bytes beyond it copies them (see `inSharedReadBuffer`).
   */
  sharedReadBuffer(): void {
    if (this.destroyed) return;
    shared ??= Buffer.allocUnsafe(SHARED_READ_BYTES);
    this.giveUpBuffer();
    this.readBuffer = shared;
    this.handle.useUserBuffer(shared);
  }

  /** After a read of `n` bytes into the own buffer: the buffer for the next read, if new. */
  nextReadBuffer(n: number): Buffer | undefined {
    const lease = this.lease;
    if (lease === undefined) return undefined; // the shared buffer stays
    const size = lease.buffer.length;
    const want = n === size ? MAX_READ_BYTES : n < size >>> 3 ? this.readMin : size;
    const held = this.kept || lease.writes > 0;
    this.kept = false;
    if (!held && want === size) return undefined;
    this.giveUpBuffer();
    const next = newLease(want, this, want === MAX_READ_BYTES);
    this.lease = next;
    this.readBuffer = next.buffer;
    return next.buffer;
  }

  /** The handle is closed: its read buffer can serve others once its writes are done. */
  releaseReadBuffer(): void {
    this.giveUpBuffer();
  }

  private giveUpBuffer(): void {
    const lease = this.lease;
    if (lease === undefined) return;
    this.lease = undefined;
    this.readBuffer = undefined;
    lease.reader = undefined;
    maybeFree(lease, MAX_READ_BYTES);
  }

  /**
   * "ip:port" of the peer (IPv6 in brackets, IPv4-mapped shown as IPv4), "?:0" when unknown:
   * ask while the handle is open.
   */
  peerText(): string {
    return (!this.destroyed && peerText(this.handle)) || "?:0";
  }

  get writable(): boolean {
    return !this.destroyed && !this.writableEnded;
  }

  /** Bytes handed to write() that the kernel has not taken yet. */
  get writableLength(): number {
    return this.destroyed ? 0 : this.handle.writeQueueSize;
  }

  /** Starts (or resumes) reading. */
  resume(): void {
    if (!this.paused || this.destroyed || this.readableEnded) return;
    this.paused = false;
    const err = this.handle.readStart();
    if (err !== 0) this.fail(errorName(err));
  }

  pause(): void {
    if (this.paused || this.destroyed) return;
    this.paused = true;
    if (!this.readableEnded) this.handle.readStop();
  }

  isPaused(): boolean {
    return this.paused;
  }

  /**
   * Writes; strings as latin1 (HTTP heads) unless `utf8` is asked for. False: more than
   * WRITE_HIGH_WATER is queued, wait for drain.
   */
  write(data: string | Uint8Array, encoding: "latin1" | "utf8" = "latin1"): boolean {
    if (this.destroyed || this.writableEnded) return false;
    if (encoding === "utf8" && typeof data === "string") data = Buffer.from(data, "utf8");
    const corked = this.corked;
    if (corked !== undefined) {
      corked.push(data);
      return true;
    }
    return this.send(data);
  }

  private send(data: string | Uint8Array): boolean {
    const req = takeReq(this);
    if (typeof data === "string") {
      this.bytesWritten += data.length;
      return afterWrite(this, req, this.handle.writeLatin1String(req, data), null);
    }
    this.bytesWritten += data.length;
    return afterWrite(this, req, this.handle.writeBuffer(req, data), [data]);
  }

  /** Writes after this wait for uncork() and leave in one system call. */
  cork(): void {
    this.corked ??= [];
  }

  uncork(): boolean {
    const chunks = this.corked;
    this.corked = undefined;
    if (chunks === undefined || chunks.length === 0 || this.destroyed) return !this.needDrain;
    if (chunks.length === 1) return this.send(chunks[0] as string | Uint8Array);
    let allBuffers = true;
    for (const c of chunks) {
      if (typeof c === "string") {
        allBuffers = false;
        break;
      }
    }
    if (allBuffers) {
      // Node's cheaper form: no encoding per chunk, nothing to convert.
      for (const c of chunks) this.bytesWritten += c.length;
      const req = takeReq(this);
      return afterWrite(this, req, this.handle.writev(req, chunks, true), chunks);
    }
    const list: (string | Uint8Array)[] = [];
    for (const c of chunks) {
      if (typeof c === "string") {
        if (c.length === 0) continue;
        this.bytesWritten += c.length;
        list.push(c, "latin1");
      } else {
        this.bytesWritten += c.length;
        list.push(c, "buffer");
      }
    }
    const req = takeReq(this);
    return afterWrite(this, req, this.handle.writev(req, list, false), list);
  }

  /** Sends FIN once everything written has left; reading goes on (half-close). */
  end(): void {
    if (this.destroyed || this.writableEnded) return;
    if (this.corked !== undefined) this.uncork();
    this.writableEnded = true;
    const req: ShutReq = new ShutdownWrap();
    req.handle = this.handle;
    req.oncomplete = onShutdown;
    req.socket = this;
    const err = this.handle.shutdown(req);
    if (err !== 0) {
      req.socket = undefined;
      // not connected any more: nothing to finish
      if (getSystemErrorName(err) !== "ENOTCONN") this.fail(errorName(err));
      else this.destroy();
    }
  }

  /** Closes now; queued writes are dropped. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.corked = undefined;
    this.handle.onread = ignoreRead;
    this.handle.close(onClosed);
  }

  /** Closes with a TCP reset, so the peer learns at once that data may be lost. */
  resetAndDestroy(): void {
    if (this.destroyed) return;
    // libuv refuses a reset while our FIN is pending, and node then marks the handle as
    // closing without closing it: it would never close (and a thread could never exit).
    if (this.writableEnded && !this.finished) {
      this.destroy();
      return;
    }
    this.destroyed = true;
    this.corked = undefined;
    this.handle.onread = ignoreRead;
    this.handle.reset(onClosed);
  }

  /** A read, write or shutdown failed: tell the owner, then close. */
  fail(code: string): void {
    if (this.destroyed) return;
    this.handlers.error.call(this, code);
    this.destroy();
  }

  setNoDelay(on: boolean): void {
    if (!this.destroyed) this.handle.setNoDelay(on);
  }

  setKeepAlive(on: boolean, initialDelayMs: number): void {
    if (!this.destroyed)
      this.handle.setKeepAlive(on, Math.max(1, Math.round(initialDelayMs / 1000)));
  }
}

// Splices two connected TCP handles (raw-tcp.ts) both ways: the same contract as tunnel.ts
// (byte-exact, a FIN crosses as a FIN, an error or reset on one side resets the other, byte
// counts, a CloseReason at the end) without net.Socket. Writes the kernel did not take at
// once stay queued up to a budget per direction; past it, the side they came from is not
// read until the queue drains, so a slow receiver costs at most the budget plus one read
// (64 KiB) per direction, and the sender is held back by TCP itself.
//
// What a connection costs is what this file is about (the DNS proxy's new connections per
// second follow it):
// - Reads land in one buffer per thread that every handle of the thread reads into (node
//   would allocate a fresh 64 KiB buffer for every read, and collect it later). Bytes read
//   there are only valid until the next read, so each chunk is copied out before it is
//   written: a small one into node's buffer pool, a large one into a scratch buffer the
//   thread keeps while the kernel takes its writes at once. A write that does not complete
//   at once keeps its copy (the scratch buffer is then replaced).
// - Handles are closed without a close callback, and a FIN is passed on without a shutdown
//   callback: no call back into JavaScript for either. The splice ends (its owner is told)
//   when it closes its handles; libuv closes their sockets right then.
// - No closure, timer or array per connection: the owner's idle sweeper calls close(), and
//   the owner is told about the end through one method.
//
// The idle timeout is the caller's: `lastActivity` holds the caller's coarse clock at the
// last byte read on either side, and the caller's sweeper calls close("idle-timeout").
import type { CloseReason } from "../observe/events.ts";
import type { TcpHandle, WriteReq, ShutdownReq } from "./raw-tcp.ts";
import {
  ShutdownWrap,
  UV_EOF,
  WriteWrap,
  errorName,
  lastWriteWasAsync,
  readResult,
} from "./raw-tcp.ts";

/** A coarse clock the owner advances (ms); reading it costs nothing per byte. */
export interface Clock {
  now: number;
}

export interface RawSplice {
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  /** the clock's time of the last byte read on either side */
  readonly lastActivity: number;
  /** how it ended (set once it has) */
  readonly end: CloseReason | undefined;
  /** the socket error behind a reset or error ending, e.g. "ECONNRESET" */
  readonly error: string | undefined;
  /** Closes both sides now (idle timeout, end of a drain) and ends with `reason`. */
  close(reason: CloseReason): void;
  /** Turns on the upstream socket's keep-alive now, when it was deferred (no-op otherwise). */
  enableKeepAlive(): void;
}

/** Told once when a splice has ended: both of its handles are closed. */
export interface SpliceOwner {
  spliceEnded(splice: RawSplice): void;
}

type Side = TcpHandle & { splice?: Splice | undefined };
type PendingWrite = WriteReq & { splice?: Splice; from?: Side; bytes?: number };

/** Bytes queued towards one side before the other side is no longer read. */
export const writeBudget = 128 * 1024;

/** The size of the reads (and of the thread's read buffer). */
export const readSize = 64 * 1024;

/** Chunks below this size are copied into node's buffer pool (slices of shared 8 KiB slabs). */
const pooledCopy = 4 * 1024;

/** The buffer every handle of this thread reads into (module state is per thread). */
let readBuffer: Buffer | undefined;
/** Where large chunks are copied to while writes complete at once; undefined: taken. */
let scratch: Buffer | undefined;

class Splice implements RawSplice {
  readonly client: Side;
  readonly upstream: Side;
  readonly clock: Clock;
  readonly owner: SpliceOwner;
  bytesFromClient = 0;
  bytesToClient = 0;
  lastActivity: number;
  end: CloseReason | undefined = undefined;
  error: string | undefined = undefined;
  /** FIN received from the client / from upstream */
  clientEof = false;
  upstreamEof = false;
  /** bytes read from the client (from upstream) whose write to the other side is pending */
  fromClientQueued = 0;
  fromUpstreamQueued = 0;
  /** reading paused while the other side's queue is over the budget */
  clientPaused = false;
  upstreamPaused = false;
  closing = false;
  /** keep-alive seconds for the upstream socket whose setting was deferred; 0: none pending */
  keepAlivePending = 0;

  constructor(client: Side, upstream: Side, clock: Clock, owner: SpliceOwner) {
    this.client = client;
    this.upstream = upstream;
    this.clock = clock;
    this.owner = owner;
    this.lastActivity = clock.now;
  }

  close(reason: CloseReason): void {
    this.fail(reason, undefined, undefined);
  }

  enableKeepAlive(): void {
    if (this.keepAlivePending === 0 || this.closing) return;
    this.upstream.setKeepAlive(true, this.keepAlivePending);
    this.keepAlivePending = 0;
  }

  /**
   * Ends the splice: closes both handles (`reset`, if given, with a RST) and tells the
   * owner. Writes still pending are cancelled by the close (their completions are ignored).
   */
  fail(reason: CloseReason, error: string | undefined, reset: Side | undefined): void {
    if (this.closing) return;
    this.closing = true;
    this.end = reason;
    this.error = error;
    closeSide(this.client, reset);
    closeSide(this.upstream, reset);
    this.owner.spliceEnded(this);
  }

  /** Both sides sent their FIN and every byte was handed to the kernel: close normally. */
  maybeDone(): void {
    if (
      this.clientEof &&
      this.upstreamEof &&
      this.fromClientQueued === 0 &&
      this.fromUpstreamQueued === 0
    ) {
      // Closing sends each side its FIN after the bytes the kernel still holds for it.
      this.fail("done", undefined, undefined);
    }
  }

  sideReason(h: Side): CloseReason {
    return h === this.client ? "client-reset" : "upstream-reset";
  }
}

function ignoreRead(): void {}

/** Closes `h` now, with a RST when it is `reset`. No callback: nothing calls back into JS. */
function closeSide(h: Side, reset: Side | undefined): void {
  h.splice = undefined;
  h.onread = ignoreRead; // must stay a function: the handle's internal field checks it
  if (h === reset && h.reset() === 0) return;
  h.close();
}

/**
 * A write the kernel takes at once never touches its request object (node's StreamBase only
 * binds the object when the write goes asynchronous), so one spare request serves every
 * such write: most writes of a forwarded connection allocate nothing.
 */
let spareWrite: PendingWrite | undefined;

function newWriteReq(): PendingWrite {
  const req: PendingWrite = new WriteWrap();
  req.oncomplete = onWritten;
  req.async = false;
  req.buffer = null;
  spareWrite = req;
  return req;
}

/** The first `n` bytes of the read buffer, copied to memory the write may keep. */
function copyOut(from: Buffer, n: number, queueEmpty: boolean): Buffer {
  if (n < pooledCopy || !queueEmpty) {
    const out = Buffer.allocUnsafe(n);
    from.copy(out, 0, 0, n);
    return out;
  }
  // Large, and the other side's queue is empty: most likely written at once, so the
  // scratch buffer is free again right after.
  const s = (scratch ??= Buffer.allocUnsafeSlow(readSize));
  from.copy(s, 0, 0, n);
  return s.subarray(0, n);
}

function onRead(this: Side): void {
  const s = this.splice;
  if (s === undefined || s.closing) return;
  const n = readResult();
  if (n > 0) {
    const fromClient = this === s.client;
    if (fromClient) s.bytesFromClient += n;
    else s.bytesToClient += n;
    s.lastActivity = s.clock.now;
    const peer = fromClient ? s.upstream : s.client;
    const queued = fromClient ? s.fromClientQueued : s.fromUpstreamQueued;
    const data = copyOut(readBuffer as Buffer, n, queued === 0);
    const req: PendingWrite = spareWrite ?? newWriteReq();
    req.handle = peer;
    const err = peer.writeBuffer(req, data);
    if (err !== 0) {
      spareWrite = undefined; // node may have bound and disposed of it: do not reuse
      // Writing into the other side failed: that side is gone; tell this one with a reset.
      s.fail(s.sideReason(peer), errorName(err), this);
      return;
    }
    if (!lastWriteWasAsync()) return;
    // The request and the copy now belong to this write (oncomplete follows).
    spareWrite = undefined;
    if (scratch !== undefined && data.buffer === scratch.buffer) scratch = undefined;
    req.async = true;
    req.buffer = data;
    req.splice = s;
    req.from = this;
    req.bytes = n;
    if (fromClient) {
      s.fromClientQueued += n;
      if (s.fromClientQueued >= writeBudget) {
        s.clientPaused = true;
        this.readStop();
      }
    } else {
      s.fromUpstreamQueued += n;
      if (s.fromUpstreamQueued >= writeBudget) {
        s.upstreamPaused = true;
        this.readStop();
      }
    }
    return;
  }
  if (n === 0) return;
  if (n === UV_EOF) {
    this.readStop();
    const fromClient = this === s.client;
    if (fromClient) s.clientEof = true;
    else s.upstreamEof = true;
    if (s.clientEof && s.upstreamEof) {
      // Both sides are done sending: close once every byte is with the kernel (now, or when
      // the last pending write completes).
      s.maybeDone();
      return;
    }
    // Pass the FIN on; libuv sends it after any write still queued on that side. No
    // callback: a failure shows on that side's own reads (a reset) or at its close.
    const peer = fromClient ? s.upstream : s.client;
    const req: ShutdownReq = new ShutdownWrap();
    req.handle = peer;
    const err = peer.shutdown(req);
    if (err !== 0) s.fail(s.sideReason(peer), errorName(err), this);
    return;
  }
  // A reset or another error on this side: reset the other, so its peer learns at once.
  s.fail(s.sideReason(this), errorName(n), this === s.client ? s.upstream : s.client);
}

function onWritten(this: PendingWrite, status: number): void {
  const s = this.splice;
  const from = this.from;
  this.buffer = null;
  this.splice = undefined;
  this.from = undefined;
  if (!s || !from || s.closing) return;
  const fromClient = from === s.client;
  if (status < 0) {
    s.fail(s.sideReason(fromClient ? s.upstream : s.client), errorName(status), from);
    return;
  }
  const bytes = this.bytes ?? 0;
  if (fromClient) {
    s.fromClientQueued -= bytes;
    if (s.clientPaused && s.fromClientQueued < writeBudget && !s.clientEof) {
      s.clientPaused = false;
      from.readStart();
    }
  } else {
    s.fromUpstreamQueued -= bytes;
    if (s.upstreamPaused && s.fromUpstreamQueued < writeBudget && !s.upstreamEof) {
      s.upstreamPaused = false;
      from.readStart();
    }
  }
  if (s.clientEof && s.upstreamEof) s.maybeDone();
}

export interface SpliceOptions {
  /** TCP keep-alive on both sides: first probe after this long idle; 0: off */
  readonly keepAliveMs: number;
  /**
   * The client socket already has no-delay and keep-alive: an accepted socket inherits them
   * from its listening socket (Linux), which saves two to five system calls per connection.
   */
  readonly clientOptionsSet: boolean;
  /**
   * Leave the upstream socket's keep-alive to a later enableKeepAlive(). Turning it on costs
   * four system calls (on, idle time, interval, count); the first probe is only due after
   * `keepAliveMs` of silence, so a caller that enables it within a second or so of the
   * connection's start changes nothing a peer can see, and the many connections that end
   * sooner never pay for it.
   */
  readonly deferUpstreamKeepAlive?: boolean;
}

function startSide(s: Splice, h: Side, buffer: Buffer): void {
  h.splice = s;
  h.onread = onRead;
  h.useUserBuffer(buffer);
}

/**
 * Splices `client` and `upstream` (connected handles nobody reads yet) until both are
 * closed, then calls `owner.spliceEnded` once (how it ended and the bytes moved are on the
 * splice). From here the splice owns both handles. The owner may be told before this
 * returns (a handle that cannot read).
 */
export function spliceHandles(
  client: TcpHandle,
  upstream: TcpHandle,
  options: SpliceOptions,
  clock: Clock,
  owner: SpliceOwner,
): RawSplice {
  const s = new Splice(client, upstream, clock, owner);
  const buffer = (readBuffer ??= Buffer.allocUnsafeSlow(readSize));
  startSide(s, s.client, buffer);
  startSide(s, s.upstream, buffer);
  const keepAliveSeconds = Math.max(1, Math.round(options.keepAliveMs / 1000));
  if (!options.clientOptionsSet) {
    s.client.setNoDelay(true);
    if (options.keepAliveMs > 0) s.client.setKeepAlive(true, keepAliveSeconds);
  }
  s.upstream.setNoDelay(true); // the sender already batched; add no Nagle delay in the middle
  if (options.keepAliveMs > 0) {
    if (options.deferUpstreamKeepAlive === true) s.keepAlivePending = keepAliveSeconds;
    else s.upstream.setKeepAlive(true, keepAliveSeconds);
  }
  let err = s.client.readStart();
  if (err !== 0) {
    s.fail("client-reset", errorName(err), s.upstream);
    return s;
  }
  err = s.upstream.readStart();
  if (err !== 0) s.fail("upstream-reset", errorName(err), s.client);
  return s;
}

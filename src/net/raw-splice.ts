// Splices two connected TCP handles (raw-tcp.ts) both ways: the same contract as tunnel.ts
// (byte-exact, a FIN crosses as a FIN, an error or reset on one side resets the other, byte
// counts, a CloseReason at the end) without net.Socket. Writes the kernel did not take at
// once stay queued up to a budget per direction; past it, the side they came from is not
// read until the queue drains, so a slow receiver costs at most the budget plus one read
// (64 KiB) per direction, and the sender is held back by TCP itself.
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
  readBytes,
  readResult,
} from "./raw-tcp.ts";
import type { TunnelResult } from "./tunnel.ts";

/** A coarse clock the owner advances (ms); reading it costs nothing per byte. */
export interface Clock {
  now: number;
}

export interface RawSplice {
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  /** the clock's time of the last byte read on either side */
  readonly lastActivity: number;
  /** Closes both sides now (idle timeout, end of a drain) and ends with `reason`. */
  close(reason: CloseReason): void;
  /** Turns on the upstream socket's keep-alive now, when it was deferred (no-op otherwise). */
  enableKeepAlive(): void;
}

type Side = TcpHandle & { splice?: Splice };
type PendingWrite = WriteReq & { splice?: Splice; from?: Side; bytes?: number };

/** Bytes queued towards one side before the other side is no longer read. */
export const writeBudget = 128 * 1024;
type PendingShutdown = ShutdownReq & { splice?: Splice };

class Splice implements RawSplice {
  readonly client: Side;
  readonly upstream: Side;
  readonly clock: Clock;
  readonly onClose: (r: TunnelResult) => void;
  bytesFromClient = 0;
  bytesToClient = 0;
  lastActivity: number;
  reason: CloseReason | undefined;
  error: string | undefined;
  /** FIN received from the client / from upstream */
  clientEof = false;
  upstreamEof = false;
  /** our FIN to the client / to upstream has been sent (shutdown completed) */
  clientShut = false;
  upstreamShut = false;
  /** bytes read from the client (from upstream) whose write to the other side is pending */
  fromClientQueued = 0;
  fromUpstreamQueued = 0;
  /** reading paused while the other side's queue is over the budget */
  clientPaused = false;
  upstreamPaused = false;
  closing = false;
  open = 2;
  /** keep-alive seconds for the upstream socket whose setting was deferred; 0: none pending */
  keepAlivePending = 0;

  constructor(client: Side, upstream: Side, clock: Clock, onClose: (r: TunnelResult) => void) {
    this.client = client;
    this.upstream = upstream;
    this.clock = clock;
    this.onClose = onClose;
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

  /** Ends the splice: the first reason wins; `reset` (if given) is closed with a RST. */
  fail(reason: CloseReason, error: string | undefined, reset: Side | undefined): void {
    if (this.reason === undefined) {
      this.reason = reason;
      this.error = error;
    }
    if (this.closing) return;
    this.closing = true;
    for (const h of [this.client, this.upstream]) {
      if (h === reset) {
        if (h.reset(onHandleClosed) !== 0) h.close(onHandleClosed);
      } else {
        h.close(onHandleClosed);
      }
    }
  }

  /** Both directions done (FIN each way, each passed on): close normally. */
  maybeDone(): void {
    if (this.clientEof && this.upstreamEof && this.clientShut && this.upstreamShut) {
      this.fail("done", undefined, undefined);
    }
  }

  sideReason(h: Side): CloseReason {
    return h === this.client ? "client-reset" : "upstream-reset";
  }

  peer(h: Side): Side {
    return h === this.client ? this.upstream : this.client;
  }
}

function ignoreRead(): void {}

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

function onHandleClosed(this: Side): void {
  const s = this.splice;
  if (!s) return;
  this.splice = undefined;
  this.onread = ignoreRead; // must stay a function: the handle's internal field checks it
  s.open -= 1;
  if (s.open > 0) return;
  s.onClose({
    end: s.reason ?? "done",
    bytesFromClient: s.bytesFromClient,
    bytesToClient: s.bytesToClient,
    error: s.error,
  });
}

function onRead(this: Side, arrayBuffer: ArrayBuffer | undefined): void {
  const s = this.splice;
  if (!s || s.closing) return;
  const n = readResult();
  if (n > 0 && arrayBuffer !== undefined) {
    if (this === s.client) s.bytesFromClient += n;
    else s.bytesToClient += n;
    s.lastActivity = s.clock.now;
    const peer = s.peer(this);
    const data = readBytes(arrayBuffer, n);
    const req: PendingWrite = spareWrite ?? newWriteReq();
    req.handle = peer;
    const err = peer.writeBuffer(req, data);
    if (err !== 0) {
      spareWrite = undefined; // node may have bound and disposed of it: do not reuse
      // Writing into the other side failed: that side is gone; tell this one with a reset.
      s.fail(s.sideReason(peer), errorName(err), this);
      return;
    }
    if (lastWriteWasAsync()) {
      // The request now belongs to this write (oncomplete follows); the next write needs a new one.
      spareWrite = undefined;
      req.async = true;
      req.buffer = data;
      req.splice = s;
      req.from = this;
      req.bytes = n;
      if (this === s.client) {
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
    }
    return;
  }
  if (n === 0) return;
  if (n === UV_EOF) {
    this.readStop();
    if (this === s.client) s.clientEof = true;
    else s.upstreamEof = true;
    // Both sides have finished sending and every byte is with the kernel: closing both now
    // sends each its FIN after its data, as a shutdown would, one system call sooner.
    if (s.clientEof && s.upstreamEof && s.fromClientQueued === 0 && s.fromUpstreamQueued === 0) {
      s.fail("done", undefined, undefined);
      return;
    }
    // Pass the FIN on; libuv sends it after any write still queued on that side.
    const peer = s.peer(this);
    const req: PendingShutdown = new ShutdownWrap();
    req.handle = peer;
    req.oncomplete = onShutdown;
    req.splice = s;
    const err = peer.shutdown(req);
    if (err !== 0) s.fail(s.sideReason(peer), errorName(err), this);
    return;
  }
  // A reset or another error on this side: reset the other, so its peer learns at once.
  s.fail(s.sideReason(this), errorName(n), s.peer(this));
}

function onWritten(this: PendingWrite, status: number): void {
  const s = this.splice;
  const from = this.from;
  this.buffer = null;
  if (!s || !from || s.closing) return;
  if (status < 0) {
    s.fail(s.sideReason(s.peer(from)), errorName(status), from);
    return;
  }
  const bytes = this.bytes ?? 0;
  if (from === s.client) {
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
}

function onShutdown(this: PendingShutdown, status: number): void {
  const s = this.splice;
  if (!s || s.closing) return;
  const h = this.handle as Side;
  if (status < 0) {
    s.fail(s.sideReason(h), errorName(status), s.peer(h));
    return;
  }
  if (h === s.client) s.clientShut = true;
  else s.upstreamShut = true;
  s.maybeDone();
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

/**
 * Splices `client` and `upstream` (connected handles nobody reads yet) until both are
 * closed, then calls `onClose` once with how it ended and the bytes moved. From here the
 * splice owns both handles.
 */
export function spliceHandles(
  client: TcpHandle,
  upstream: TcpHandle,
  options: SpliceOptions,
  clock: Clock,
  onClose: (r: TunnelResult) => void,
): RawSplice {
  const s = new Splice(client, upstream, clock, onClose);
  const keepAliveSeconds = Math.max(1, Math.round(options.keepAliveMs / 1000));
  for (const h of [s.client, s.upstream]) {
    h.splice = s;
    h.onread = onRead;
    if (h === s.client && options.clientOptionsSet) continue;
    h.setNoDelay(true); // the sender already batched; add no Nagle delay in the middle
    if (options.keepAliveMs <= 0) continue;
    if (h === s.upstream && options.deferUpstreamKeepAlive === true)
      s.keepAlivePending = keepAliveSeconds;
    else h.setKeepAlive(true, keepAliveSeconds);
  }
  for (const h of [s.client, s.upstream]) {
    const err = h.readStart();
    if (err !== 0) {
      s.fail(s.sideReason(h), errorName(err), s.peer(h));
      break;
    }
  }
  return s;
}

// Splices two connected raw sockets (net/raw-socket.ts) both ways until both are done:
// byte-exact, a FIN from one side becomes a FIN to the other after everything before it, a
// reset or error on one side resets the other, byte counts, how it ended. Each side reads
// into a buffer of its own that is reused while the other side's writes do not hold it (no
// allocation and no copy per read at full speed); a side whose peer has 64 KiB queued is
// not read until the peer drains.
//
// The idle timeout is the caller's: `lastActivity` is the caller's coarse clock at the last
// byte read on either side, and the caller's sweeper calls close("idle-timeout").
import type { CloseReason } from "../observe/events.ts";
import type { Clock } from "./raw-splice.ts";
import type { RawSocket, SocketHandlers } from "./raw-socket.ts";
import type { TunnelResult } from "./tunnel.ts";

export interface RawTunnel {
  /** the clock's time of the last byte read on either side */
  readonly lastActivity: number;
  /** Closes both sides now (idle timeout, end of a drain) and ends with `reason`. */
  close(reason: CloseReason): void;
}

export interface RawTunnelOptions {
  /** TCP keep-alive on both sides, first probe after this long idle; 0: off */
  readonly keepAliveMs: number;
  /** smallest read buffer of each side (it grows when reads fill it) */
  readonly minReadBytes?: number;
}

class TunnelState implements RawTunnel {
  readonly client: RawSocket;
  readonly upstream: RawSocket;
  readonly clock: Clock;
  readonly onClose: (r: TunnelResult) => void;
  readonly fromClientBefore: number;
  readonly toClientBefore: number;
  lastActivity: number;
  reason: CloseReason | undefined = undefined;
  error: string | undefined = undefined;
  open = 2;

  constructor(
    client: RawSocket,
    upstream: RawSocket,
    clock: Clock,
    onClose: (r: TunnelResult) => void,
  ) {
    this.client = client;
    this.upstream = upstream;
    this.clock = clock;
    this.onClose = onClose;
    this.lastActivity = clock.now;
    this.fromClientBefore = client.bytesRead;
    this.toClientBefore = client.bytesWritten;
  }

  close(reason: CloseReason): void {
    this.fail(reason, undefined, undefined);
  }

  /** Ends the tunnel abnormally: the first cause wins; `reset` (if given) gets a TCP RST. */
  fail(reason: CloseReason, error: string | undefined, reset: RawSocket | undefined): void {
    if (this.reason === undefined) {
      this.reason = reason;
      this.error = error;
    }
    for (const s of [this.client, this.upstream]) {
      if (s === reset) s.resetAndDestroy();
      else s.destroy();
    }
  }

  peer(s: RawSocket): RawSocket {
    return s === this.client ? this.upstream : this.client;
  }
}

function stateOf(s: RawSocket): TunnelState {
  return s.owner as TunnelState;
}

const handlers: SocketHandlers = {
  data(chunk) {
    const t = stateOf(this);
    t.lastActivity = t.clock.now;
    const peer = t.peer(this);
    if (!peer.write(chunk)) this.pause();
  },
  drain() {
    // This side's queue is empty again: read the other side again.
    const t = stateOf(this);
    const peer = t.peer(this);
    if (!peer.readableEnded) peer.resume();
  },
  end() {
    // A FIN: pass it on once everything before it has been written (half-close).
    stateOf(this).peer(this).end();
  },
  error(code) {
    const t = stateOf(this);
    const side = this === t.client ? "client-reset" : "upstream-reset";
    // A reset (or a dead peer found by keep-alive, or a write into a closed connection) on
    // one side is passed on as a reset, so the other peer learns at once that data may be lost.
    t.fail(side, code, t.peer(this));
  },
  close() {
    const t = stateOf(this);
    // Closed without having ended both ways: reset, timeout, or closed by someone else. The
    // first cause wins, so this only names it "error" when nothing else did.
    if (!(this.readableEnded && this.finished)) t.fail("error", "closed", undefined);
    t.open -= 1;
    if (t.open > 0) return;
    t.onClose({
      end: t.reason ?? "done",
      bytesFromClient: t.client.bytesRead - t.fromClientBefore,
      bytesToClient: t.client.bytesWritten - t.toClientBefore,
      error: t.error,
    });
  },
};

/**
 * Splices `client` and `upstream` (connected; whatever either has queued to write is sent
 * first) until both have closed, then calls `onClose` once with how it ended and the bytes
 * moved through the tunnel. From here the tunnel owns both sockets.
 */
export function startRawTunnel(
  client: RawSocket,
  upstream: RawSocket,
  options: RawTunnelOptions,
  clock: Clock,
  onClose: (result: TunnelResult) => void,
): RawTunnel {
  const t = new TunnelState(client, upstream, clock, onClose);
  for (const s of [client, upstream]) {
    s.handlers = handlers;
    s.owner = t;
    if (options.keepAliveMs > 0) s.setKeepAlive(true, options.keepAliveMs);
    s.ownReadBuffer(options.minReadBytes);
  }
  // A side that closed before the tunnel started calls no handler of ours any more.
  for (const s of [client, upstream]) {
    if (s.closed) {
      t.fail("error", "closed", undefined);
      t.open -= 1;
    }
  }
  if (t.open === 0) {
    queueMicrotask(() =>
      onClose({ end: t.reason ?? "error", bytesFromClient: 0, bytesToClient: 0, error: t.error }),
    );
    return t;
  }
  // A side whose peer already has a full queue waits for that peer's drain.
  for (const s of [client, upstream]) {
    if (!t.peer(s).needDrain) s.resume();
  }
  return t;
}

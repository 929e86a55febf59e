// Splices two connected TCP sockets both ways until both are done: byte-exact, with TCP
// half-close carried across (a FIN from one side becomes a FIN to the other), a reset on one
// side carried across as a reset, an idle timeout, TCP keep-alive and byte counts.
//
// Memory matters: a forwarder may hold thousands of idle tunnels. The per-tunnel state is one
// small object hung on both sockets under a symbol, and every event handler is a shared
// module-level function that finds that state through `this` (EventEmitter calls listeners
// with the emitter as `this`), so a tunnel allocates no closures.
import type { Socket } from "node:net";
import type { CloseReason } from "../observe/events.ts";
import { hasReusableReads, setReadSink } from "./reusable-reads.ts";

export interface TunnelOptions {
  /** close the tunnel after this long without a byte moving either way; 0: never */
  readonly idleTimeoutMs: number;
  /** TCP keep-alive on both sockets, first probe after this long idle; 0: off */
  readonly keepAliveMs: number;
  /** bytes already read from the client (e.g. after a CONNECT header): sent upstream first */
  readonly head?: Buffer | undefined;
}

export interface TunnelResult {
  readonly end: CloseReason;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  /** the socket error behind a reset or error ending, e.g. "ECONNRESET" */
  readonly error: string | undefined;
}

export interface Tunnel {
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  /** Closes both sides now (e.g. at the end of a drain) and ends the tunnel with `reason`. */
  close(reason: CloseReason): void;
}

const kTunnel = Symbol("tunnel");

type TunnelSocket = Socket & { [kTunnel]?: TunnelState };

class TunnelState implements Tunnel {
  readonly client: TunnelSocket;
  readonly upstream: TunnelSocket;
  readonly onClose: (result: TunnelResult) => void;
  bytesFromClient = 0;
  bytesToClient = 0;
  reason: CloseReason | undefined = undefined;
  error: string | undefined = undefined;
  openSockets = 2;

  constructor(client: Socket, upstream: Socket, onClose: (result: TunnelResult) => void) {
    this.client = client;
    this.upstream = upstream;
    this.onClose = onClose;
  }

  close(reason: CloseReason): void {
    this.fail(reason, undefined, undefined);
  }

  /** Ends the tunnel abnormally: the first cause wins; `reset` (if given) gets a TCP RST. */
  fail(reason: CloseReason, error: string | undefined, reset: Socket | undefined): void {
    if (this.reason === undefined) {
      this.reason = reason;
      this.error = error;
    }
    for (const s of [this.client, this.upstream]) {
      if (s.destroyed) continue;
      if (s === reset) s.resetAndDestroy();
      else s.destroy();
    }
  }

  peer(s: Socket): TunnelSocket {
    return s === this.client ? this.upstream : this.client;
  }
}

function stateOf(s: TunnelSocket): TunnelState {
  // Handlers are only ever attached together with the state.
  return s[kTunnel] as TunnelState;
}

function onData(this: TunnelSocket, chunk: Buffer): void {
  const t = stateOf(this);
  const peer = t.peer(this);
  if (this === t.client) t.bytesFromClient += chunk.length;
  else t.bytesToClient += chunk.length;
  if (peer.destroyed) return;
  if (!peer.write(chunk)) this.pause();
}

function onDrain(this: TunnelSocket): void {
  const t = stateOf(this);
  const peer = t.peer(this);
  if (!peer.destroyed && !peer.readableEnded) peer.resume();
}

/** A FIN arrived: pass it on once everything before it has been written (half-close). */
function onEnd(this: TunnelSocket): void {
  const peer = stateOf(this).peer(this);
  if (!peer.destroyed) peer.end();
}

function onError(this: TunnelSocket, err: NodeJS.ErrnoException): void {
  const t = stateOf(this);
  const side = this === t.client ? "client-reset" : "upstream-reset";
  // A reset (or a dead peer found by keep-alive, or a write into a closed connection) on one
  // side is passed on as a reset, so the other peer learns at once that data may be lost.
  t.fail(side, err.code ?? err.message, t.peer(this));
}

function onTimeout(this: TunnelSocket): void {
  stateOf(this).fail("idle-timeout", undefined, undefined);
}

function onSocketClose(this: TunnelSocket): void {
  socketClosed(stateOf(this), this);
}

function socketClosed(t: TunnelState, s: Socket): void {
  // Closed without having ended both ways: reset, timeout, or destroyed by someone else. The
  // first cause wins, so this only names it "error" when nothing else did.
  if (!(s.readableEnded && s.writableFinished)) t.fail("error", "closed", undefined);
  t.openSockets -= 1;
  if (t.openSockets > 0) return;
  for (const x of [t.client, t.upstream]) {
    x.removeListener("data", onData);
    x.removeListener("drain", onDrain);
    x.removeListener("end", onEnd);
    x.removeListener("timeout", onTimeout);
    x.removeListener("close", onSocketClose);
    // The error listener stays: a late error on a closed socket must not crash the process.
  }
  t.client.setTimeout(0);
  t.onClose({
    end: t.reason ?? "done",
    bytesFromClient: t.bytesFromClient,
    bytesToClient: t.bytesToClient,
    error: t.error,
  });
}

function attach(s: TunnelSocket, t: TunnelState): void {
  s[kTunnel] = t;
  s.allowHalfOpen = true;
  // A socket reading into its own buffer (net/reusable-reads) has no "data" events.
  if (hasReusableReads(s)) setReadSink(s, onData, t.peer(s));
  s.on("error", onError);
  s.on("end", onEnd);
  s.on("drain", onDrain);
  s.on("close", onSocketClose);
}

/**
 * Splices `client` and `upstream` (both connected, created with `allowHalfOpen: true`) until
 * both have closed, then calls `onClose` once with how it ended and the bytes moved.
 * The caller keeps the sockets' error handling up to this call; from here the tunnel owns them.
 *
 * @example
 * startTunnel(client, upstream, { idleTimeoutMs: 3_600_000, keepAliveMs: 60_000 }, (r) =>
 *   publishConnectionClose({ ...fields, ...r }),
 * );
 */
export function startTunnel(
  client: Socket,
  upstream: Socket,
  options: TunnelOptions,
  onClose: (result: TunnelResult) => void,
): Tunnel {
  const t = new TunnelState(client, upstream, onClose);
  attach(client, t);
  attach(upstream, t);
  for (const s of [client, upstream]) {
    s.setNoDelay(true); // the sender already batched; do not add Nagle delay in the middle
    if (options.keepAliveMs > 0) s.setKeepAlive(true, options.keepAliveMs);
  }
  // Every byte passes through the client socket (read or written), so one timer on it sees
  // any activity of the tunnel.
  if (options.idleTimeoutMs > 0) {
    client.setTimeout(options.idleTimeoutMs);
    client.on("timeout", onTimeout);
  }
  if (options.head !== undefined && options.head.length > 0) {
    t.bytesFromClient += options.head.length;
    upstream.write(options.head);
  }
  // A socket that closed before the tunnel started emits no more "close": count it now.
  for (const s of [client, upstream]) {
    if (s.closed) process.nextTick(socketClosed, t, s);
  }
  client.on("data", onData);
  upstream.on("data", onData);
  client.resume();
  upstream.resume();
  return t;
}

/** `startTunnel` as a promise. */
export function runTunnel(
  client: Socket,
  upstream: Socket,
  options: TunnelOptions,
): Promise<TunnelResult> {
  return new Promise((resolve) => {
    startTunnel(client, upstream, options, resolve);
  });
}

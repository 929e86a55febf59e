// Reads into a buffer the socket keeps, instead of a fresh one per read. node allocates a new
// 64 KiB buffer for every read of a plain socket; for a proxy moving hundreds of MB/s that is
// most of its garbage and a good part of its CPU. A socket made with these `onread` options
// reads into its own buffer, hands each chunk to a sink, and reuses the buffer for the next
// read — unless the chunk may still be referenced: when the socket the chunk was written to
// (the "holder") still has bytes queued, the next read gets a new buffer. The buffer size
// adapts: 16 KiB while reads are small (idle and chatty connections stay cheap), 128 KiB once
// a read fills it (bulk transfers make fewer, larger reads).
//
// node calls the buffer function without `this`, hence one small closure per socket.
import type { OnReadOpts, Socket } from "node:net";

const MIN_BYTES = 16 * 1024;
const MAX_BYTES = 128 * 1024;

/** Receives each chunk; `this` is the reading socket. Must not keep the chunk. */
export type ReadSink = (this: Socket, chunk: Buffer) => void;

const kReads = Symbol("reusable-reads");

interface ReadState {
  buffer: Buffer;
  want: number;
  sink: ReadSink | undefined;
  holder: Socket | undefined;
  /** copies of chunks that arrived before a sink was set */
  early: Buffer[];
}

type ReadSocket = Socket & { [kReads]?: ReadState };

/** `onread` options for net.connect; pass the new socket to `adoptReads` right after. */
export function reusableReadOptions(): OnReadOpts & { state: ReadState } {
  const state: ReadState = {
    buffer: Buffer.allocUnsafe(MIN_BYTES),
    want: MIN_BYTES,
    sink: undefined,
    holder: undefined,
    early: [],
  };
  return {
    state,
    buffer: () => {
      const held = state.holder !== undefined && state.holder.writableLength > 0;
      if (held || state.buffer.length !== state.want) state.buffer = Buffer.allocUnsafe(state.want);
      return state.buffer;
    },
    callback(this: Socket, n: number, buf: Uint8Array): boolean {
      const size = buf.length;
      state.want = n === size ? MAX_BYTES : n < size >>> 3 ? MIN_BYTES : size;
      const chunk = Buffer.from(buf.buffer, buf.byteOffset, n);
      if (state.sink === undefined) {
        // Nobody to give it to yet (e.g. a server that speaks first, before the tunnel is
        // set up): keep a copy and stop reading until a sink comes.
        state.early.push(Buffer.from(chunk));
        return false;
      }
      state.sink.call(this, chunk);
      return true;
    },
  };
}

export function adoptReads(socket: Socket, options: { state: ReadState }): void {
  (socket as ReadSocket)[kReads] = options.state;
}

/** True when the socket reads through reusableReadOptions (no "data" events). */
export function hasReusableReads(socket: Socket): boolean {
  return (socket as ReadSocket)[kReads] !== undefined;
}

/**
 * Sets where the socket's chunks go and which socket they are written to; chunks that
 * arrived before go to the sink first. The caller resumes the socket.
 */
export function setReadSink(socket: Socket, sink: ReadSink, holder: Socket | undefined): void {
  const state = (socket as ReadSocket)[kReads];
  if (state === undefined) return;
  state.sink = sink;
  state.holder = holder;
  const early = state.early;
  if (early.length === 0) return;
  state.early = [];
  for (const chunk of early) sink.call(socket, chunk);
}

/** The socket the chunks are written to changed (a pooled connection serves another client). */
export function setReadHolder(socket: Socket, holder: Socket | undefined): void {
  const state = (socket as ReadSocket)[kReads];
  if (state !== undefined) state.holder = holder;
}

// Node's TCP handles without net.Socket, for the DNS proxy's forwarding path.
//
// Why: a forwarded connection is two sockets that only move bytes, and net.Socket's stream
// machinery costs about 1.6 times the CPU per connection of the handles underneath (measured
// with bench/dns-proxy.ts; it is most of why a plain Node forwarder reaches ~0.6x HAProxy's
// new connections per second). These are the handles net.js itself drives (tcp_wrap and
// stream_wrap, reached through process.binding): not a public API, so this module is the
// only place that touches them, checks their shape when loaded, and fails with a clear
// message if a Node upgrade changed them. Node is pinned (package.json), and the socket
// tests run every path through here.
import { getSystemErrorName } from "node:util";

/** A libuv TCP handle (tcp_wrap.TCP). Methods return 0 or a negative libuv error code. */
export interface TcpHandle {
  /**
   * Always a function (the handle's internal field aborts the process on anything else).
   * After useUserBuffer() it gets no buffer: the bytes are in the user buffer.
   */
  onread: (this: TcpHandle, arrayBuffer: ArrayBuffer | undefined) => void;
  onconnection: (this: TcpHandle, status: number, client: TcpHandle | undefined) => void;
  bind(address: string, port: number, flags?: number): number;
  bind6(address: string, port: number, flags: number): number;
  listen(backlog: number): number;
  connect(req: ConnectReq, address: string, port: number): number;
  connect6(req: ConnectReq, address: string, port: number): number;
  readStart(): number;
  readStop(): number;
  /**
   * Reads go into `buffer` (from its start, at most its length) instead of a new buffer
   * allocated for every read; onread gets no buffer, readResult() says how many bytes came.
   * The bytes are only valid until the next read of any handle reading into the same buffer.
   */
  useUserBuffer(buffer: Uint8Array): void;
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  shutdown(req: ShutdownReq): number;
  setNoDelay(enable: boolean): number;
  setKeepAlive(enable: boolean, initialDelaySeconds: number): number;
  getpeername(out: { address?: string; port?: number; family?: string }): number;
  getsockname(out: { address?: string; port?: number; family?: string }): number;
  /** Closes with a RST (SO_LINGER 0); non-zero when the handle is not open. */
  reset(callback?: () => void): number;
  close(callback?: () => void): void;
  readonly writeQueueSize: number;
}

export interface ConnectReq {
  /** called with the connect's status (0: connected); node reads nothing else off the request */
  oncomplete: (status: number, handle: TcpHandle, req: ConnectReq) => void;
}

export interface WriteReq {
  handle: TcpHandle;
  oncomplete: (this: WriteReq, status: number) => void;
  async: boolean;
  /** keeps the written bytes alive while an asynchronous write is pending */
  buffer: Uint8Array | null;
}

export interface ShutdownReq {
  handle: TcpHandle;
  /** absent: nothing is called when the shutdown is done */
  oncomplete?: (this: ShutdownReq, status: number) => void;
}

interface TcpWrapBinding {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectReq;
  constants: { SOCKET: number; SERVER: number; UV_TCP_IPV6ONLY: number; UV_TCP_REUSEPORT: number };
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
  streamBaseState: Int32Array;
}

type BindingLoader = (name: string) => unknown;

function load(): { tcp: TcpWrapBinding; stream: StreamWrapBinding } {
  const binding = (process as unknown as { binding?: BindingLoader }).binding;
  const tcp = binding?.("tcp_wrap") as Partial<TcpWrapBinding> | undefined;
  const stream = binding?.("stream_wrap") as Partial<StreamWrapBinding> | undefined;
  const ok =
    typeof tcp?.TCP === "function" &&
    typeof (tcp.TCP.prototype as Partial<TcpHandle>).useUserBuffer === "function" &&
    typeof tcp.TCPConnectWrap === "function" &&
    typeof tcp.constants?.UV_TCP_REUSEPORT === "number" &&
    typeof stream?.WriteWrap === "function" &&
    typeof stream.ShutdownWrap === "function" &&
    stream.streamBaseState instanceof Int32Array &&
    typeof stream.kReadBytesOrError === "number" &&
    typeof stream.kLastWriteWasAsync === "number";
  if (!ok) {
    throw new Error(
      `Cannot use Node ${process.versions.node}'s TCP handles: their shape is not the one this build was made for; run the Node version pinned in package.json`,
    );
  }
  return { tcp: tcp as TcpWrapBinding, stream: stream as StreamWrapBinding };
}

const { tcp, stream } = load();

export const TCP = tcp.TCP;
export const tcpConstants = tcp.constants;
export const ConnectWrap = tcp.TCPConnectWrap;
export const WriteWrap = stream.WriteWrap;
export const ShutdownWrap = stream.ShutdownWrap;
const state = stream.streamBaseState;
const kRead = stream.kReadBytesOrError;
const kAsync = stream.kLastWriteWasAsync;

/** libuv's end-of-stream code (UV_EOF). */
export const UV_EOF = -4095;

/** Inside `onread`: bytes read (> 0: in the user buffer), 0, UV_EOF or a negative error code. */
export function readResult(): number {
  return state[kRead] ?? 0;
}

/** After writeBuffer(): true when the write did not complete at once (oncomplete will follow). */
export function lastWriteWasAsync(): boolean {
  return (state[kAsync] ?? 0) !== 0;
}

/** "ECONNREFUSED" for a negative libuv code. */
export function errorName(code: number): string {
  try {
    return getSystemErrorName(code);
  } catch {
    return `E${-code}`;
  }
}

export interface ServerOptions {
  readonly reusePort: boolean;
  readonly ipv6Only: boolean;
  readonly backlog: number;
}

/** A listening handle, or the libuv error code of bind/listen. */
export function listenHandle(
  address: string,
  port: number,
  family: 4 | 6,
  options: ServerOptions,
): TcpHandle | number {
  const h = new TCP(tcpConstants.SERVER);
  let flags = options.reusePort ? tcpConstants.UV_TCP_REUSEPORT : 0;
  if (family === 6 && options.ipv6Only) flags |= tcpConstants.UV_TCP_IPV6ONLY;
  let err = family === 6 ? h.bind6(address, port, flags) : h.bind(address, port, flags);
  if (err === 0) err = h.listen(options.backlog);
  if (err !== 0) {
    h.close();
    return err;
  }
  return h;
}

/**
 * 0 when nothing listens on `address`:`port` yet, else the bind error code (EADDRINUSE…).
 * Threads listening together on a port use SO_REUSEPORT, and the kernel lets a socket of the
 * same user join the SO_REUSEPORT group of any other process on that port: the two programs
 * would then silently share the connections, and neither bind fails. A socket without the
 * flag does fail there: at listen(), not at bind(), since libuv sets SO_REUSEADDR. The probe
 * listens for an instant and closes; a connection that lands on it in that instant is reset,
 * as it would have been a moment before, when the port was closed. Run it once, in the main
 * thread, before the threads bind.
 */
export function probeBind(address: string, port: number, family: 4 | 6, ipv6Only: boolean): number {
  const h = new TCP(tcpConstants.SERVER);
  const flags = family === 6 && ipv6Only ? tcpConstants.UV_TCP_IPV6ONLY : 0;
  let err = family === 6 ? h.bind6(address, port, flags) : h.bind(address, port, flags);
  if (err === 0) err = h.listen(1);
  h.close();
  return err;
}

/** A connect request; `done(status, handle, req)` follows the connect (status 0: connected). */
export function connectRequest(
  done: (status: number, handle: TcpHandle, req: ConnectReq) => void,
): ConnectReq {
  const req = new ConnectWrap();
  req.oncomplete = done;
  return req;
}

/** Starts connecting `handle` with `req`. Returns 0, or an error code (then no callback). */
export function connectHandle(
  handle: TcpHandle,
  req: ConnectReq,
  address: string,
  port: number,
  family: 4 | 6,
): number {
  return family === 6 ? handle.connect6(req, address, port) : handle.connect(req, address, port);
}

/** "ip:port" of the peer (IPv6 in brackets, IPv4-mapped shown as IPv4); "" when unknown. */
export function peerText(handle: TcpHandle): string {
  const out: { address?: string; port?: number } = {};
  if (handle.getpeername(out) !== 0 || out.address === undefined) return "";
  let a = out.address;
  if (a.startsWith("::ffff:") && a.includes(".")) a = a.slice(7);
  return a.includes(":") ? `[${a}]:${out.port ?? 0}` : `${a}:${out.port ?? 0}`;
}

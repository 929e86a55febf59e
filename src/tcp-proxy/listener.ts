// One listening socket of a forwarded port, on a raw TCP handle (net/raw-tcp.ts). Nothing
// is read from an accepted connection until its upstream connection exists: early bytes
// wait in the kernel (bounded), not in our memory.
import { isIPv6 } from "node:net";
import type { TcpHandle } from "../net/raw-tcp.ts";
import { errorName, listenHandle, probeBind } from "../net/raw-tcp.ts";

export interface Listener {
  /** the address actually bound ("::", or "0.0.0.0" where the host has no IPv6) */
  readonly address: string;
  readonly port: number;
  /** Stops accepting at once; accepted connections are not affected. */
  close(): void;
}

export interface BindOptions {
  /** several threads listen on the same port; the kernel spreads new connections */
  readonly reusePort: boolean;
  /** "::" takes IPv6 only (an IPv4 address is listed as well) */
  readonly ipv6Only: boolean;
  /** TCP keep-alive for accepted sockets (they inherit it, and no-delay, from the listener) */
  readonly keepAliveMs: number;
  /** gets every accepted connection, with the port it came in on */
  readonly onConnection: Acceptor;
}

export interface Acceptor {
  accept(port: number, client: TcpHandle): void;
}

const listenErrors: Record<string, string> = {
  EADDRINUSE: "the port is already in use (another process, or another rule of this router)",
  EACCES: "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
  EADDRNOTAVAIL: "the address is not configured on this host",
  EAFNOSUPPORT: "the host has no support for this address family",
};

type ServerHandle = TcpHandle & { acceptor?: Acceptor | undefined; port?: number };

function onConnection(this: ServerHandle, status: number, client: TcpHandle | undefined): void {
  // A failed accept (e.g. EMFILE) is retried by libuv; there is no connection to handle.
  if (status !== 0 || client === undefined) return;
  this.acceptor?.accept(this.port ?? 0, client);
}

// Backlog: room for a burst of new connections while a thread is busy.
const backlog = 4096;

function listenFailure(address: string, port: number, code: string): Error {
  const where = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
  return new Error(`Cannot listen on ${where}: ${listenErrors[code] ?? code} (${code})`);
}

/**
 * Throws the error bindListener would if another socket (of another process, even one using
 * SO_REUSEPORT) already listens on `address`:`port`; see probeBind. Other errors are left
 * to the bind itself.
 */
export function checkPortFree(address: string, port: number, ipv6Only: boolean): void {
  let err = probeBind(address, port, isIPv6(address) ? 6 : 4, ipv6Only);
  if (err !== 0 && address === "::") {
    const code = errorName(err);
    if (code === "EAFNOSUPPORT" || code === "EADDRNOTAVAIL")
      err = probeBind("0.0.0.0", port, 4, false);
  }
  if (err !== 0 && errorName(err) === "EADDRINUSE")
    throw listenFailure(address, port, "EADDRINUSE");
}

/** Binds `address`:`port`. "::" falls back to "0.0.0.0" on hosts without IPv6. */
export function bindListener(address: string, port: number, bind: BindOptions): Listener {
  const options = { reusePort: bind.reusePort, ipv6Only: bind.ipv6Only, backlog };
  let bound = address;
  let h = listenHandle(address, port, isIPv6(address) ? 6 : 4, options);
  if (typeof h === "number" && address === "::") {
    const code = errorName(h);
    if (code === "EAFNOSUPPORT" || code === "EADDRNOTAVAIL") {
      bound = "0.0.0.0";
      h = listenHandle(bound, port, 4, options);
    }
  }
  if (typeof h === "number") throw listenFailure(bound, port, errorName(h));
  const server: ServerHandle = h;
  // Set once here, inherited by every accepted socket (Linux copies both on accept).
  server.setNoDelay(true);
  if (bind.keepAliveMs > 0)
    server.setKeepAlive(true, Math.max(1, Math.round(bind.keepAliveMs / 1000)));
  server.acceptor = bind.onConnection;
  server.port = port;
  server.onconnection = onConnection;
  let closed = false;
  return {
    address: bound,
    port,
    close() {
      if (closed) return;
      closed = true;
      server.acceptor = undefined;
      server.close();
    },
  };
}

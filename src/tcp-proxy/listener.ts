// One listening socket of a forwarded port. Accepted sockets start paused: nothing is read
// from the client before its upstream connection exists, so early bytes wait in the kernel
// (bounded) instead of in our memory.
import net from "node:net";
import type { ForwardOptions } from "./forward-config.ts";

export interface Listener {
  /** the address actually bound ("::", or "0.0.0.0" where the host has no IPv6) */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface BindOptions {
  /** several threads listen on the same port; the kernel spreads new connections */
  readonly reusePort: boolean;
  /** "::" takes IPv6 only (an IPv4 address is listed as well) */
  readonly ipv6Only: boolean;
  readonly onConnection: (socket: net.Socket) => void;
}

const listenErrors: Record<string, string> = {
  EADDRINUSE: "the port is already in use (another process, or another rule of this router)",
  EACCES: "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
  EADDRNOTAVAIL: "the address is not configured on this host",
  EAFNOSUPPORT: "the host has no support for this address family",
};

function listen(server: net.Server, options: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(err);
    };
    server.once("error", onError);
    server.listen(options, () => {
      server.removeListener("error", onError);
      resolve();
    });
  });
}

/** Binds `address`:`port`. "::" falls back to "0.0.0.0" on hosts without IPv6. */
export async function bindListener(
  address: string,
  port: number,
  options: ForwardOptions,
  bind: BindOptions,
): Promise<Listener> {
  const server = net.createServer(
    {
      allowHalfOpen: true,
      pauseOnConnect: true,
      noDelay: true,
      keepAlive: options.keepAliveMs > 0,
      keepAliveInitialDelay: options.keepAliveMs,
    },
    bind.onConnection,
  );
  // Backlog: room for a burst of new connections while a thread is busy.
  const listenOptions = { port, reusePort: bind.reusePort, backlog: 4096 };
  let bound = address;
  try {
    await listen(server, { ...listenOptions, host: address, ipv6Only: bind.ipv6Only });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (address === "::" && (code === "EAFNOSUPPORT" || code === "EADDRNOTAVAIL")) {
      bound = "0.0.0.0";
      try {
        await listen(server, { ...listenOptions, host: bound });
      } catch (err2) {
        throw listenError(bound, port, err2);
      }
    } else {
      throw listenError(address, port, err);
    }
  }
  // Errors after listening (rare: e.g. EMFILE on accept) must not crash the process; Node
  // retries accepting by itself.
  server.on("error", () => undefined);
  return {
    address: bound,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        // Resolves once the port no longer accepts; accepted connections are not waited for.
        server.close();
        setImmediate(resolve);
      }),
  };
}

function listenError(address: string, port: number, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code ?? "";
  const where = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
  const why = listenErrors[code] ?? (err as Error).message;
  return new Error(`Cannot listen on ${where}: ${why}${code ? ` (${code})` : ""}`);
}

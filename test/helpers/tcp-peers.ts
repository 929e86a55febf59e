// Real TCP peers on loopback for socket tests: servers on 127.0.0.1:0 (or ::1), clients that
// collect what they receive, and small waiting helpers. Everything registers its cleanup with
// the test context, so a failing test still closes what it opened.
import { once } from "node:events";
import net from "node:net";
import type { TestContext } from "node:test";

export interface Peer {
  readonly socket: net.Socket;
  /** resolves with every byte received, once the peer's FIN arrived */
  readonly received: Promise<Buffer>;
  /** resolves with the error code when the socket errored (e.g. "ECONNRESET"), else undefined at close */
  readonly closed: Promise<string | undefined>;
}

/** Wraps a socket: collects what it receives and how it closed. */
export function peer(socket: net.Socket): Peer {
  const chunks: Buffer[] = [];
  let errorCode: string | undefined;
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", (err: NodeJS.ErrnoException) => {
    errorCode ??= err.code ?? err.message;
  });
  const received = new Promise<Buffer>((resolve, reject) => {
    socket.once("end", () => {
      resolve(Buffer.concat(chunks));
    });
    socket.once("close", () => {
      reject(new Error(`closed without FIN (${errorCode ?? "no error"})`));
    });
  });
  received.catch(() => undefined); // tests that expect a reset need not await it
  const closed = new Promise<string | undefined>((resolve) => {
    socket.once("close", () => {
      resolve(errorCode);
    });
  });
  return { socket, received, closed };
}

/** A TCP server on loopback whose connections go to `handler`; closed when the test ends. */
export async function startServer(
  t: TestContext,
  handler: (socket: net.Socket) => void,
  host = "127.0.0.1",
  port = 0,
): Promise<{ server: net.Server; port: number; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    handler(s);
  });
  server.listen(port, host);
  await once(server, "listening");
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { server, port: (server.address() as net.AddressInfo).port, sockets };
}

/** An echo server that half-closes after its client did (byte-exact, both ways). */
export function echo(socket: net.Socket): void {
  socket.on("error", () => undefined);
  socket.pipe(socket);
}

/**
 * Connects to loopback `port`; the socket is destroyed when the test ends. Resolves once
 * connected, or once closed (a reset can beat the connect callback: see `closed`).
 */
export async function connectTo(t: TestContext, port: number, host = "127.0.0.1"): Promise<Peer> {
  const socket = net.connect({ port, host, allowHalfOpen: true });
  t.after(() => socket.destroy());
  const p = peer(socket);
  await new Promise((resolve) => {
    socket.once("connect", resolve);
    socket.once("close", resolve);
  });
  return p;
}

/** Resolves when `check()` is true, polling every 10 ms; rejects after `ms`. */
export async function waitFor(check: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// Small real-socket helpers for tests: loopback only.
import { connect, createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";

/** A port that was free a moment ago (for child processes that must be told a port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A line-oriented client: `ask("x")` sends a line and resolves the next line received. */
export interface LineClient {
  readonly socket: Socket;
  ask(line: string): Promise<string>;
  close(): Promise<void>;
  /** resolves when the server closes the connection */
  readonly closed: Promise<void>;
}

export async function lineClient(port: number): Promise<LineClient> {
  const socket = connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.setEncoding("utf8");
  let buffered = "";
  const waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  const lines: string[] = [];
  socket.on("data", (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const w = waiting.shift();
      if (w) w.resolve(line);
      else lines.push(line);
    }
  });
  const closed = new Promise<void>((resolve) =>
    socket.once("close", () => {
      for (const w of waiting.splice(0)) w.reject(new Error("connection closed before an answer"));
      resolve();
    }),
  );
  socket.on("error", () => undefined);
  return {
    socket,
    closed,
    ask(line) {
      return new Promise<string>((resolve, reject) => {
        const early = lines.shift();
        socket.write(`${line}\n`);
        if (early !== undefined) return resolve(early);
        const timer = setTimeout(
          () => reject(new Error(`no answer to "${line}" within 5 s`)),
          5000,
        );
        waiting.push({
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
          reject: (err) => {
            clearTimeout(timer);
            reject(err);
          },
        });
      });
    },
    async close() {
      socket.end();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
      socket.destroy();
    },
  };
}

/**
 * Polls `check` every `everyMs` until it returns a value other than undefined, or fails after
 * `ms`.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  ms = 5000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

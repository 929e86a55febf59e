// Connects to exactly the addresses that were checked: never a name, so no second lookup
// can slip a different address in between the check and the connect (DNS rebinding). With
// several addresses the attempts are staggered, Happy Eyeballs style (RFC 8305).
import { publishConnectLatency, type DataMode } from "../observe/events.ts";
import type { TcpHandle } from "./raw-tcp.ts";
import { TCP, connectHandle, connectRequest, errorName, tcpConstants } from "./raw-tcp.ts";

/** With several addresses, the next attempt starts after this long (node's default too). */
export const ATTEMPT_DELAY_MS = 250;

export type DialFailure = "refused" | "unreachable" | "reset" | "timeout" | "other";

export class DialError extends Error {
  readonly failure: DialFailure;
  readonly code: string;
  constructor(failure: DialFailure, code: string, message: string) {
    super(message);
    this.name = "DialError";
    this.failure = failure;
    this.code = code;
  }
}

export interface DialOptions {
  /** the checked addresses, in the order to try them; at least one */
  readonly addresses: readonly string[];
  readonly port: number;
  /** give up (and destroy the attempt) after this long */
  readonly timeoutMs: number;
  readonly mode: DataMode;
}

function classify(code: string): DialFailure {
  switch (code) {
    case "ECONNREFUSED":
      return "refused";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EADDRNOTAVAIL":
    case "ENETDOWN":
    case "EHOSTDOWN":
      return "unreachable";
    case "ECONNRESET":
    case "EPIPE":
      return "reset";
    case "ETIMEDOUT":
      return "timeout";
    default:
      return "other";
  }
}

type Attempt = { handle: TcpHandle; address: string; settled: boolean };

/** A connected handle and the address it is connected to. */
export interface Dialed {
  readonly handle: TcpHandle;
  readonly address: string;
}

/**
 * A connected TCP handle (no Nagle) to one of `addresses`, or a DialError. With several
 * addresses the attempts are staggered (Happy Eyeballs, RFC 8305): the next one starts when
 * the one before has failed or has not connected within ATTEMPT_DELAY_MS; the first to connect
 * wins and the others are closed. The caller owns the handle (net/raw-socket.ts wraps it).
 */
export function dial(options: DialOptions): Promise<Dialed> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const attempts: Attempt[] = [];
    let next = 0;
    let done = false;
    let first: DialError | undefined;
    let staggered: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      finish(undefined, new DialError("timeout", "ETIMEDOUT", "connect timeout"));
    }, options.timeoutMs);

    function finish(winner: Attempt | undefined, err: DialError | undefined) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(staggered);
      for (const a of attempts) if (a !== winner && !a.settled) a.handle.close();
      if (winner !== undefined) {
        winner.handle.setNoDelay(true);
        publishConnectLatency({
          mode: options.mode,
          seconds: (performance.now() - started) / 1000,
        });
        resolve({ handle: winner.handle, address: winner.address });
      } else reject(err ?? first ?? new DialError("other", "EUNKNOWN", "connect failed"));
    }

    function failed(a: Attempt, code: string) {
      a.settled = true;
      a.handle.close();
      first ??= new DialError(classify(code), code, `connect ${code}`);
      if (attempts.every((x) => x.settled) && next >= options.addresses.length)
        finish(undefined, undefined);
      else if (attempts.every((x) => x.settled)) start();
    }

    function start() {
      if (done || next >= options.addresses.length) return;
      clearTimeout(staggered);
      const address = options.addresses[next++] ?? "";
      const family = address.includes(":") ? 6 : 4;
      const a: Attempt = { handle: new TCP(tcpConstants.SOCKET), address, settled: false };
      attempts.push(a);
      const req = connectRequest((status) => {
        if (done || a.settled) return;
        if (status === 0) {
          a.settled = true;
          finish(a, undefined);
        } else failed(a, errorName(status));
      });
      const err = connectHandle(a.handle, req, address, options.port, family);
      if (err !== 0) {
        failed(a, errorName(err));
        return;
      }
      if (next < options.addresses.length) staggered = setTimeout(start, ATTEMPT_DELAY_MS);
    }
    start();
  });
}

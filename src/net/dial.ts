// Connects to exactly the addresses that were checked: never a name, so no second lookup
// can slip a different address in between the check and the connect (DNS rebinding). With
// several addresses node's own Happy Eyeballs (RFC 8305, `autoSelectFamily`) races them,
// fed through a lookup function that answers with the checked list only.
import net from "node:net";
import type { LookupFunction } from "node:net";
import { publishConnectLatency, type DataMode } from "../observe/events.ts";
import { adoptReads, reusableReadOptions } from "./reusable-reads.ts";

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

function fixedLookup(addresses: readonly string[]): LookupFunction {
  const list = addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  return (_hostname, options, callback) => {
    if (options.all) callback(null, list);
    else {
      const first = list[0] ?? { address: "", family: 4 };
      callback(null, first.address, first.family);
    }
  };
}

/**
 * A connected socket (allowHalfOpen, no Nagle) to one of `addresses`, or a DialError.
 * The socket has no error listener once returned: the caller must attach one at once.
 * It reads through net/reusable-reads (no "data" events): give it a sink with setReadSink.
 */
export function dial(options: DialOptions): Promise<net.Socket> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const single = options.addresses.length === 1;
    const onread = reusableReadOptions();
    const socket = single
      ? net.connect({
          host: options.addresses[0] ?? "",
          port: options.port,
          allowHalfOpen: true,
          noDelay: true,
          onread,
        })
      : net.connect({
          // The name is never resolved: `lookup` answers with the checked addresses.
          host: "checked.invalid",
          port: options.port,
          allowHalfOpen: true,
          noDelay: true,
          onread,
          lookup: fixedLookup(options.addresses),
          autoSelectFamily: true,
          autoSelectFamilyAttemptTimeout: 250,
        });
    adoptReads(socket, onread);
    const timer = setTimeout(() => {
      cleanup();
      socket.destroy();
      reject(new DialError("timeout", "ETIMEDOUT", "connect timeout"));
    }, options.timeoutMs);
    const onError = (err: NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] }) => {
      cleanup();
      socket.destroy();
      // Happy Eyeballs reports every attempt; the first one names the primary address.
      const inner = err.errors?.[0] ?? err;
      const code = inner.code ?? err.code ?? "EUNKNOWN";
      reject(new DialError(classify(code), code, inner.message));
    };
    const onConnect = () => {
      cleanup();
      publishConnectLatency({ mode: options.mode, seconds: (performance.now() - started) / 1000 });
      resolve(socket);
    };
    function cleanup() {
      clearTimeout(timer);
      socket.removeListener("error", onError);
      socket.removeListener("connect", onConnect);
    }
    socket.once("error", onError);
    socket.once("connect", onConnect);
  });
}

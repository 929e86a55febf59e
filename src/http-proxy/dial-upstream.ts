// Dials a destination's checked addresses for a request or a tunnel; a failure is published
// on the upstream-error channel and turned into its answer (502 or 504).
import { dial, DialError, type Dialed } from "../net/dial.ts";
import { publishUpstreamError } from "../observe/events.ts";
import type { ProxyContext } from "./proxy-context.ts";
import { connectReject, type Reject } from "./reject.ts";

/**
 * Calls `done` once with the connected handle or the Reject to answer; when `gone()` says the
 * client left meanwhile, a handle that still connects is closed and `done` is not called.
 */
export function dialUpstream(
  ctx: ProxyContext,
  destination: string,
  addresses: readonly string[],
  port: number,
  gone: () => boolean,
  done: (result: Dialed | Reject) => void,
): void {
  const timeoutMs = ctx.options.connectTimeoutMs;
  dial({ addresses, port, timeoutMs, mode: "http-proxy" }).then(
    (dialed) => {
      if (gone()) {
        dialed.handle.close();
        return;
      }
      done(dialed);
    },
    (err: unknown) => {
      if (gone()) return;
      const e = err instanceof DialError ? err : new DialError("other", String(err), "");
      publishUpstreamError({
        mode: "http-proxy",
        destination,
        address: addresses[0],
        kind: e.failure,
        message: e.code,
      });
      done(connectReject(`"${destination}"`, e.failure, e.code, timeoutMs));
    },
  );
}

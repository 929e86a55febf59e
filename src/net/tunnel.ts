// What a tunnel (two connected sockets spliced both ways) reports when it is over: how it
// ended and the bytes it moved. The splices themselves are net/raw-tunnel.ts (HTTP proxy)
// and net/raw-splice.ts (DNS proxy).
import type { CloseReason } from "../observe/events.ts";

export interface TunnelResult {
  readonly end: CloseReason;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  /** the socket error behind a reset or error ending, e.g. "ECONNRESET" */
  readonly error: string | undefined;
}

// What a client connection queues and drives: a forwarded request, an Upgrade, or a CONNECT.

export type ExchangeKind = "forward" | "connect" | "upgrade";

export interface ProxyRequest {
  readonly done: boolean;
  readonly responseStarted: boolean;
  /** bytes that followed a CONNECT or Upgrade head in the same read */
  head: Buffer | undefined;
  begin(): void;
  onRequestBody(chunk: Buffer): void;
  onRequestComplete(): void;
  onClientDrain(): void;
  /** the sweeper's look at the upstream connection's idle time, if there is one */
  checkUpstream(now: number): void;
  abort(): void;
  /** "host:port" as asked, for the close event */
  readonly destination: string;
  readonly address: string | undefined;
  readonly ruleLine: number | undefined;
}

/** Why the client socket is paused (ClientConnection.paused bits). */
export const PAUSE_PIPELINE = 1;
export const PAUSE_UPSTREAM = 2;
export const PAUSE_WAIT = 4;
export const PAUSE_TUNNEL = 8;

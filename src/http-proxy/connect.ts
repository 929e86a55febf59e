// CONNECT host:port: decide, resolve, dial a checked address, answer 200, then splice the
// two sockets with net/tunnel (half-close, resets, idle timeout, byte counts). Any failure
// before the 200 gets a complete answer (403/400/502/504) instead.
import type { Dialed } from "../net/dial.ts";
import { channels, publishRequest } from "../observe/events.ts";
import { hostForAuthority } from "../policy/canonical-host.ts";
import type { ClientConnection } from "./client-connection.ts";
import { dialUpstream } from "./dial-upstream.ts";
import type { ProxyRequest } from "./proxy-request.ts";
import type { Reject } from "./reject.ts";
import { parseConnectTarget } from "./request-target.ts";
import { route, type RouteOutcome } from "./route.ts";

export class ConnectRequest implements ProxyRequest {
  readonly conn: ClientConnection;
  readonly authority: string;
  readonly startedAt = performance.now();
  done = false;
  responseStarted = false;
  head: Buffer | undefined = undefined;
  destination = "";
  address: string | undefined = undefined;
  ruleLine: number | undefined = undefined;
  private port = 0;

  constructor(conn: ClientConnection, authority: string) {
    this.conn = conn;
    this.authority = authority;
  }

  get client(): string {
    return this.conn.clientText;
  }

  begin(): void {
    const t = parseConnectTarget(this.authority);
    if ("problem" in t) return this.reject({ status: 400, message: t.problem });
    this.port = t.port;
    this.destination = `${hostForAuthority(t.host)}:${t.port}`;
    route(
      this.conn.ctx,
      this.conn.ctx.policy,
      this,
      { host: t.host, port: t.port, connect: true },
      (o) => this.routed(o),
    );
  }

  private routed(o: RouteOutcome): void {
    if (this.done) return;
    this.ruleLine = o.decision?.rule?.line;
    if (!o.ok) return this.reject(o.reject);
    dialUpstream(
      this.conn.ctx,
      this.destination,
      o.addresses,
      this.port,
      () => this.done,
      (r) => ("status" in r ? this.reject(r) : this.connected(r)),
    );
  }

  private connected(d: Dialed): void {
    this.done = true;
    this.responseStarted = true;
    this.address = d.address;
    this.publish(200);
    this.conn.connectTunnel(this, d.handle);
  }

  private reject(r: Reject): void {
    if (this.done) return;
    this.done = true;
    this.publish(r.status);
    this.conn.rejectAndClose(r);
  }

  private publish(status: number): void {
    const totals = this.conn.ctx.totals;
    totals.requests++;
    if (status === 200) totals.tunnels++;
    if (channels.request.hasSubscribers) {
      publishRequest({
        mode: "http-proxy",
        method: "CONNECT",
        status,
        seconds: (performance.now() - this.startedAt) / 1000,
      });
    }
  }

  onRequestBody(): void {
    // CONNECT has no content (RFC 9110 §9.3.6); the parser stops at its head anyway.
  }
  onRequestComplete(): void {}
  onClientDrain(): void {}
  checkUpstream(): void {}
  abort(): void {
    this.done = true;
  }
}

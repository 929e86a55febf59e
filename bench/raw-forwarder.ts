// The least a Node.js forwarder can do per connection, for bench/dns-proxy.ts: the DNS
// proxy's byte path (src/net/raw-splice.ts on raw TCP handles, one forwarding thread per core
// on an SO_REUSEPORT listener each) with nothing around it: no connection limit, no address
// pool, failover or connect timeout, no metrics, logs or idle sweep, keep-alive off. What it
// costs per connection is what Node.js and libuv cost (a handle and a callback per event);
// egress-router's cost above it is what its features cost.
//   raw-forwarder.ts <listen port>:<target port>...     (all on 127.0.0.1)
import { availableParallelism } from "node:os";
import { Worker, isMainThread, workerData } from "node:worker_threads";
import type { Clock, SpliceOwner } from "../src/net/raw-splice.ts";
import { spliceHandles } from "../src/net/raw-splice.ts";
import type { ConnectReq, TcpHandle } from "../src/net/raw-tcp.ts";
import {
  TCP,
  connectHandle,
  connectRequest,
  errorName,
  listenHandle,
  tcpConstants,
} from "../src/net/raw-tcp.ts";

type Pairs = readonly (readonly [listen: number, target: number])[];

if (isMainThread) {
  const pairs: Pairs = process.argv.slice(2).map((a) => {
    const [listen, target] = a.split(":").map(Number);
    if (!listen || !target)
      throw new Error("usage: raw-forwarder.ts <listen port>:<target port>...");
    return [listen, target] as const;
  });
  for (let i = 0; i < availableParallelism(); i++) {
    new Worker(new URL(import.meta.url), { workerData: pairs });
  }
} else {
  const clock: Clock = { now: Date.now() };
  const owner: SpliceOwner = { spliceEnded: () => undefined };
  type Req = ConnectReq & { client?: TcpHandle };
  const onConnected = (status: number, upstream: TcpHandle, req: Req): void => {
    const client = req.client as TcpHandle;
    if (status !== 0) {
      if (client.reset() !== 0) client.close();
      upstream.close();
      return;
    }
    spliceHandles(client, upstream, { keepAliveMs: 0, clientOptionsSet: true }, clock, owner);
  };
  for (const [listen, target] of workerData as Pairs) {
    const server = listenHandle("127.0.0.1", listen, 4, {
      reusePort: true,
      ipv6Only: false,
      backlog: 4096,
    });
    if (typeof server === "number") throw new Error(`listen on ${listen}: ${errorName(server)}`);
    server.setNoDelay(true); // inherited by accepted sockets, as egress-router's listeners do
    server.onconnection = (status, client) => {
      if (status !== 0 || client === undefined) return;
      const upstream = new TCP(tcpConstants.SOCKET);
      const req: Req = connectRequest(onConnected);
      req.client = client;
      if (connectHandle(upstream, req, "127.0.0.1", target, 4) !== 0) {
        if (client.reset() !== 0) client.close();
        upstream.close();
      }
    };
  }
}

// The lab's external server: a program run inside the external namespace. Every answer says
// what the server saw, as one JSON line (a ServerView): the peer address is the source
// address the router sent from, which the demo and the tests check.
//
//   HTTP ports:  any request gets 200 with the ServerView as the body (plus method, host, path)
//   TCP ports:   the ServerView line at once, then every byte received is echoed back
//   UDP ports:   each datagram gets the ServerView line followed by the datagram itself
//
// Usage: lab-server.ts --http 80,8080 --tcp 22,443 --udp 123,514 [--addresses a,b]
//                      [--ready-file <path>]
import dgram from "node:dgram";
import { writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { parseArgs } from "node:util";

/** What the external server saw; the peer is the address the connection came from. */
export interface ServerView {
  readonly server: "lab-external";
  /** sctp: seen by a raw-packet receiver (lab.probeSctp), not by this server */
  readonly protocol: "tcp" | "udp" | "http" | "sctp";
  readonly peer: string;
  readonly peerPort: number;
  readonly local: string;
  readonly localPort: number;
  readonly method?: string;
  readonly host?: string;
  readonly path?: string;
}

/** `::ffff:198.51.100.99` → `198.51.100.99` (dual-stack sockets report IPv4 peers mapped). */
export function unmapAddress(address: string | undefined): string {
  if (address === undefined) return "";
  return address.startsWith("::ffff:") && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

function ports(value: string | undefined): number[] {
  if (!value) return [];
  return value.split(",").map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`lab-server: bad port "${p}"`);
    return n;
  });
}

function log(view: ServerView): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...view })}\n`);
}

function listenTcp(server: net.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "::", port, ipv6Only: false }, () => resolve());
  });
}

async function startHttp(port: number): Promise<void> {
  const server = http.createServer((req, res) => {
    const view: ServerView = {
      server: "lab-external",
      protocol: "http",
      peer: unmapAddress(req.socket.remoteAddress),
      peerPort: req.socket.remotePort ?? 0,
      local: unmapAddress(req.socket.localAddress),
      localPort: req.socket.localPort ?? 0,
      method: req.method ?? "",
      host: req.headers.host ?? "",
      path: req.url ?? "",
    };
    log(view);
    req.resume();
    const body = `${JSON.stringify(view)}\n`;
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  });
  await listenTcp(server, port);
}

async function startTcp(port: number): Promise<void> {
  const server = net.createServer((socket) => {
    socket.on("error", () => socket.destroy());
    const view: ServerView = {
      server: "lab-external",
      protocol: "tcp",
      peer: unmapAddress(socket.remoteAddress),
      peerPort: socket.remotePort ?? 0,
      local: unmapAddress(socket.localAddress),
      localPort: socket.localPort ?? 0,
    };
    log(view);
    socket.write(`${JSON.stringify(view)}\n`);
    socket.pipe(socket);
  });
  await listenTcp(server, port);
}

async function startUdp(port: number, address: string): Promise<void> {
  const socket = dgram.createSocket(
    net.isIPv4(address) ? { type: "udp4" } : { type: "udp6", ipv6Only: address !== "::" },
  );
  socket.on("message", (msg, rinfo) => {
    const addr = socket.address();
    const view: ServerView = {
      server: "lab-external",
      protocol: "udp",
      peer: unmapAddress(rinfo.address),
      peerPort: rinfo.port,
      local: unmapAddress(addr.address),
      localPort: addr.port,
    };
    log(view);
    socket.send(
      Buffer.concat([Buffer.from(`${JSON.stringify(view)}\n`), msg]),
      rinfo.port,
      rinfo.address,
    );
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ address, port }, () => resolve());
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      http: { type: "string" },
      tcp: { type: "string" },
      udp: { type: "string" },
      // UDP sockets are bound per address, so that each answer names the address it was
      // sent to (a socket bound to :: cannot tell)
      addresses: { type: "string" },
      "ready-file": { type: "string" },
    },
  });
  const udpAddresses = values.addresses ? values.addresses.split(",") : ["::"];
  await Promise.all([
    ...ports(values.http).map(startHttp),
    ...ports(values.tcp).map(startTcp),
    ...ports(values.udp).flatMap((port) => udpAddresses.map((a) => startUdp(port, a))),
  ]);
  if (values["ready-file"]) writeFileSync(values["ready-file"], `${process.pid}\n`);
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`lab-server: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}

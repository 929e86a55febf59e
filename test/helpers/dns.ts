// DNS servers for tests, on 127.0.0.1 only: real dnsmasq answering from a hosts file, and a
// scripted responder (real UDP DNS packets) whose answer can change from one query to the
// next — the shape of a DNS-rebinding attack. Both stop when the test ends.
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { once } from "node:events";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { freePort } from "./net.ts";

/** dnsmasq on 127.0.0.1:<port> answering `records` (name → addresses), nothing else. */
export async function startDnsmasq(
  t: TestContext,
  records: Record<string, string[]>,
): Promise<{ server: string }> {
  const dir = mkdtempSync(join(tmpdir(), "egress-router-dns-"));
  chmodSync(dir, 0o755); // dnsmasq reads the file after dropping root
  const hosts = Object.entries(records)
    .flatMap(([name, addresses]) => addresses.map((a) => `${a} ${name}`))
    .join("\n");
  writeFileSync(join(dir, "hosts"), `${hosts}\n`, { mode: 0o644 });
  const port = await freePort();
  const child = spawn(
    "dnsmasq",
    [
      "--keep-in-foreground",
      "--conf-file=/dev/null",
      "--no-resolv",
      "--no-hosts",
      `--addn-hosts=${join(dir, "hosts")}`,
      "--pid-file=",
      "--bind-interfaces",
      "--listen-address=127.0.0.1",
      `--port=${port}`,
      "--local-ttl=0",
      "--local=/test/",
      "--log-facility=-",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  t.after(() => {
    child.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });
  // Ready when it answers on TCP (it listens on both).
  const deadline = Date.now() + 5000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`dnsmasq did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { server: `127.0.0.1:${port}` };
}

export interface Query {
  readonly name: string;
  /** "A", "AAAA" or the number */
  readonly type: string;
}

/**
 * A UDP DNS responder on 127.0.0.1:<port>. `answer(name, type, n)` returns the addresses for
 * the n-th query (from 0) of that name and type; an empty list answers NOERROR with no data,
 * undefined answers NXDOMAIN. TTL 0. Every query is recorded.
 */
export async function startScriptedDns(
  t: TestContext,
  answer: (name: string, type: string, n: number) => string[] | undefined,
): Promise<{ server: string; queries: Query[]; silent: boolean }> {
  const queries: Query[] = [];
  const state = { silent: false };
  const counts = new Map<string, number>();
  const socket = dgram.createSocket("udp4");
  socket.on("message", (msg, rinfo) => {
    let at = 12;
    const labels: string[] = [];
    while (at < msg.length && msg[at] !== 0) {
      const len = msg[at] ?? 0;
      labels.push(msg.subarray(at + 1, at + 1 + len).toString("latin1"));
      at += len + 1;
    }
    const qEnd = at + 5;
    const qtype = msg.readUInt16BE(at + 1);
    const type = qtype === 1 ? "A" : qtype === 28 ? "AAAA" : String(qtype);
    const name = labels.join(".").toLowerCase();
    queries.push({ name, type });
    if (state.silent) return;
    const key = `${name}/${type}`;
    const n = counts.get(key) ?? 0;
    counts.set(key, n + 1);
    const list = answer(name, type, n);
    const wanted = (list ?? []).filter((a) => net.isIP(a) === (type === "A" ? 4 : 6));
    const head = Buffer.alloc(12);
    head.writeUInt16BE(msg.readUInt16BE(0), 0); // id
    head.writeUInt16BE(list === undefined ? 0x8183 : 0x8180, 2); // response, RD, RA, rcode
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(wanted.length, 6);
    const answers = wanted.map((a) => {
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question
      rr.writeUInt16BE(qtype, 2);
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(0, 6); // TTL 0
      const data = net.isIP(a) === 4 ? Buffer.from(a.split(".").map(Number)) : ipv6Bytes(a);
      rr.writeUInt16BE(data.length, 10);
      return Buffer.concat([rr, data]);
    });
    socket.send(
      Buffer.concat([head, msg.subarray(12, qEnd), ...answers]),
      rinfo.port,
      rinfo.address,
    );
  });
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  t.after(() => socket.close());
  const server = `127.0.0.1:${socket.address().port}`;
  return {
    server,
    queries,
    get silent() {
      return state.silent;
    },
    set silent(v: boolean) {
      state.silent = v;
    },
  };
}

/** 16 bytes of an IPv6 address (test data only; the proxy itself never parses addresses). */
function ipv6Bytes(a: string): Buffer {
  const [head = "", tail = ""] = a.split("::");
  const h = head ? head.split(":") : [];
  const tl = a.includes("::") && tail ? tail.split(":") : [];
  const groups = [...h, ...Array<string>(8 - h.length - tl.length).fill("0"), ...tl];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

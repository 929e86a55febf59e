// A real dnsmasq on a loopback port, answering only from a hosts file the test controls
// (no upstream servers, no /etc/hosts, no system config), so a test can change what a name
// resolves to. Stopped (by its PID) and its files removed when the test ends.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { freeUdpPort } from "./ports.ts";
import { waitFor } from "./tcp-peers.ts";

export type Records = Record<string, readonly string[]>;

export interface Dnsmasq {
  /** "127.0.0.1:<port>", for ResolverOptions.servers */
  readonly server: string;
  /** Replaces the records and makes dnsmasq re-read them (SIGHUP); resolves once reloaded. */
  set(records: Records): Promise<void>;
}

function hostsText(records: Records): string {
  return Object.entries(records)
    .flatMap(([name, addresses]) => addresses.map((a) => `${a} ${name}\n`))
    .join("");
}

export async function startDnsmasq(
  t: TestContext,
  records: Records,
  options: { ttlSeconds?: number } = {},
): Promise<Dnsmasq> {
  const dir = mkdtempSync(join(tmpdir(), "egress-dnsmasq-"));
  const hosts = join(dir, "hosts");
  writeFileSync(hosts, hostsText(records));
  const port = await freeUdpPort();
  const child = spawn(
    "dnsmasq",
    [
      "--keep-in-foreground",
      "--conf-file=/dev/null",
      "--no-resolv",
      "--no-hosts",
      "--no-poll",
      "--local=/#/", // every name is ours: unknown names get NXDOMAIN, not REFUSED
      `--addn-hosts=${hosts}`,
      `--local-ttl=${options.ttlSeconds ?? 1}`,
      "--listen-address=127.0.0.1",
      "--bind-interfaces",
      `--port=${port}`,
      "--user=root",
      "--pid-file=",
      "--log-facility=-",
      "--log-queries",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => {
    log += d;
  });
  t.after(() => {
    if (child.exitCode === null) child.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(() => log.includes("started") || child.exitCode !== null, 5000, "dnsmasq start");
  if (child.exitCode !== null) throw new Error(`dnsmasq failed to start: ${log}`);
  return {
    server: `127.0.0.1:${port}`,
    async set(next) {
      writeFileSync(hosts, hostsText(next));
      const before = log.length;
      child.kill("SIGHUP");
      await waitFor(() => log.slice(before).includes("read "), 5000, "dnsmasq reload");
    },
  };
}

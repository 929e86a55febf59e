// The lab's servers: the external server (lab-server.ts) and the DNS server (dnsmasq),
// started detached so that they outlive the process that built the lab (`lab up`).
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { DnsRecord } from "./dns.ts";
import { dnsmasqArgv } from "./dns.ts";
import type { Lab } from "./lab.ts";
import { LabError } from "./lab-error.ts";
import type { LabRole } from "./topology.ts";

/** Ports the external server answers on. */
export const LAB_SERVER_PORTS = Object.freeze({
  http: Object.freeze([80, 8080]),
  tcp: Object.freeze([22, 443, 5432, 7000, 8443, 9000]),
  udp: Object.freeze([123, 514, 7000, 9000]),
});

export async function startServers(lab: Lab, records: readonly DnsRecord[]): Promise<void> {
  const t = lab.topology;
  const serverScript = fileURLToPath(new URL("./lab-server.ts", import.meta.url));
  const ready = `${lab.dir}/server.ready`;
  startDetached(lab, "external", `${lab.dir}/server.log`, [
    process.execPath,
    "--disable-warning=ExperimentalWarning",
    serverScript,
    `--http=${LAB_SERVER_PORTS.http.join(",")}`,
    `--tcp=${LAB_SERVER_PORTS.tcp.join(",")}`,
    `--udp=${LAB_SERVER_PORTS.udp.join(",")}`,
    `--addresses=${[...t.v4.external, ...t.v6.external].join(",")}`,
    `--ready-file=${ready}`,
  ]);
  lab.writeHostsFile(records);
  startDetached(lab, "dns", `${lab.dir}/dnsmasq.log`, [
    ...dnsmasqArgv(t, { hostsFile: `${lab.dir}/hosts`, pidFile: `${lab.dir}/dnsmasq.pid` }),
  ]);
  await waitFor("the external server", `${lab.dir}/server.log`, () => existsSync(ready));
  await waitFor("the DNS server", `${lab.dir}/dnsmasq.log`, async () => {
    const r = await lab.exec("dns", ["ss", "-H", "-l", "-n", "-u", "sport = :53"]);
    return r.stdout.trim() !== "" && existsSync(`${lab.dir}/dnsmasq.pid`);
  });
}

/** Starts a lab server that outlives this process (the CLI's `lab up` returns at once). */
function startDetached(lab: Lab, role: LabRole, logFile: string, argv: readonly string[]): void {
  const log = openLog(logFile);
  try {
    const child = lab.spawn(role, argv, { detached: true, stdio: ["ignore", log, log] });
    child.unref();
  } finally {
    closeSync(log); // the child has its own copy
  }
}

function openLog(path: string): number {
  return openSync(path, "w", 0o644);
}

async function waitFor(
  what: string,
  log: string,
  ready: () => boolean | Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  const tail = existsSync(log)
    ? readFileSync(log, "utf8").trim().split("\n").slice(-3).join(" | ")
    : "";
  throw new LabError(
    `lab: Cannot start ${what}: not ready after 30 s${tail ? `; its log says: ${tail}` : ""}`,
  );
}

// SCTP in the lab on kernels without SCTP sockets: raw IPv4 packets (sctp-raw.py) still go
// through the kernel's connection tracking and NAT, which is what redirect mode uses.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Lab } from "./lab.ts";
import type { ProbeResult } from "./lab-probe.ts";
import type { LabRole } from "./topology.ts";

/** A receiver in the external namespace waits for one packet; then one INIT goes from `from`. */
export async function probeSctp(
  lab: Lab,
  from: LabRole,
  address: string,
  port: number,
  timeoutMs: number,
): Promise<ProbeResult> {
  const script = fileURLToPath(new URL("./sctp-raw.py", import.meta.url));
  const start = performance.now();
  const receiver = lab.spawn("external", ["python3", script, "receive", String(timeoutMs / 1000)]);
  let send: Promise<unknown> = Promise.resolve();
  const out = await new Promise<string>((resolve, reject) => {
    let text = "";
    let sent = false;
    receiver.stdout?.setEncoding("utf8").on("data", (d: string) => {
      text += d;
      if (!sent && text.startsWith("ready\n")) {
        sent = true;
        send = lab.exec(from, ["python3", script, "send", address, String(port)]);
        send.catch(reject);
      }
    });
    receiver.once("error", reject);
    receiver.once("exit", () => resolve(text));
  });
  await send; // the packet is out (or was refused) before the result is read
  const ms = Math.round(performance.now() - start);
  const line = out.split("\n")[1] ?? "";
  let seen: { timeout?: boolean; peer?: string; dst?: string; sport?: number; dport?: number };
  try {
    seen = JSON.parse(line) as typeof seen;
  } catch {
    return {
      outcome: "error",
      detail: `raw SCTP receiver said ${JSON.stringify(out.trim())}`,
      ms,
    };
  }
  if (seen.timeout || seen.peer === undefined) {
    return { outcome: "timeout", detail: `no SCTP packet arrived in ${timeoutMs} ms`, ms };
  }
  return {
    outcome: "reply",
    view: {
      server: "lab-external",
      protocol: "sctp",
      peer: seen.peer,
      peerPort: seen.sport ?? 0,
      local: seen.dst ?? "",
      localPort: seen.dport ?? 0,
    },
    ms,
  };
}
/**
 * Why SCTP cannot be redirected on this kernel, or undefined when it can: NAT of SCTP needs
 * the kernel's SCTP connection tracking (SCTP sockets are not needed: the lab sends raw
 * packets). Read from the caller's network namespace; conntrack support is kernel-wide.
 */
export function sctpUnsupportedReason(): string | undefined {
  return existsSync("/proc/sys/net/netfilter/nf_conntrack_sctp_timeout_established")
    ? undefined
    : "the kernel has no SCTP connection tracking (no /proc/sys/net/netfilter/nf_conntrack_sctp_*), so it cannot NAT SCTP";
}

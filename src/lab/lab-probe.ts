// A lab client: run inside a namespace (usually the client pod), it makes one connection or
// sends one datagram and prints one JSON line (a ProbeResult) saying what happened and, when
// the external server answered, what it saw.
//
// Usage: lab-probe.ts --protocol tcp|udp|http --address <ip> --port <n> [--timeout-ms <n>]
//                     [--host <Host header>]
import dgram from "node:dgram";
import http from "node:http";
import net from "node:net";
import { parseArgs } from "node:util";
import type { ServerView } from "./lab-server.ts";

export type ProbeProtocol = "tcp" | "udp" | "http";

/** How a probe ended. `reply`: the external server answered. */
export type ProbeOutcome =
  | "reply"
  | "refused" // TCP reset or ICMP port unreachable / administratively prohibited
  | "timeout"
  | "unreachable" // ICMP host or network unreachable
  | "reset" // connection reset after it was established
  | "closed" // closed without an answer
  | "error";

export interface ProbeResult {
  readonly outcome: ProbeOutcome;
  /** what the external server saw, when it answered */
  readonly view?: ServerView;
  /** the error or the unexpected answer, in a few words */
  readonly detail?: string;
  readonly ms: number;
}

function classify(err: NodeJS.ErrnoException): ProbeOutcome {
  switch (err.code ?? "") {
    case "ECONNREFUSED":
    case "EACCES": // ICMPv6 administratively prohibited
      return "refused";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "unreachable";
    case "ECONNRESET":
      return "reset";
    case "ETIMEDOUT":
      return "timeout";
    default:
      return "error";
  }
}

function parseView(text: string): ServerView | undefined {
  const line = text.split("\n")[0] ?? "";
  try {
    const v = JSON.parse(line) as ServerView;
    return v.server === "lab-external" ? v : undefined;
  } catch {
    return undefined;
  }
}

function probeTcp(
  address: string,
  port: number,
  timeoutMs: number,
): Promise<Omit<ProbeResult, "ms">> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    let data = "";
    const done = (r: Omit<ProbeResult, "ms">) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ outcome: "timeout", detail: `no answer in ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      data += chunk;
      if (data.includes("\n")) {
        const view = parseView(data);
        done(
          view
            ? { outcome: "reply", view }
            : {
                outcome: "error",
                detail: `unexpected answer ${JSON.stringify(data.slice(0, 80))}`,
              },
        );
      }
    });
    socket.on("error", (err: NodeJS.ErrnoException) =>
      done({ outcome: classify(err), detail: err.code ?? err.message }),
    );
    socket.on("end", () => done({ outcome: "closed", detail: "closed without an answer" }));
  });
}

function probeHttp(
  address: string,
  port: number,
  timeoutMs: number,
  host?: string,
): Promise<Omit<ProbeResult, "ms">> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: Omit<ProbeResult, "ms">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ outcome: "timeout", detail: `no answer in ${timeoutMs} ms` }),
      timeoutMs,
    );
    const req = http.get(
      { host: address, port, path: "/probe", headers: host ? { host } : {}, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => {
          const view = parseView(body);
          done(
            view
              ? { outcome: "reply", view }
              : {
                  outcome: "error",
                  detail: `HTTP ${res.statusCode ?? 0}: ${body.trim().slice(0, 120)}`,
                },
          );
        });
      },
    );
    req.on("error", (err: NodeJS.ErrnoException) =>
      done({ outcome: classify(err), detail: err.code ?? err.message }),
    );
  });
}

function probeUdp(
  address: string,
  port: number,
  timeoutMs: number,
): Promise<Omit<ProbeResult, "ms">> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(net.isIPv6(address) ? "udp6" : "udp4");
    const done = (r: Omit<ProbeResult, "ms">) => {
      clearTimeout(timer);
      socket.close();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ outcome: "timeout", detail: `no answer in ${timeoutMs} ms` }),
      timeoutMs,
    );
    // a connected UDP socket reports ICMP errors (port unreachable → ECONNREFUSED)
    socket.on("error", (err: NodeJS.ErrnoException) =>
      done({ outcome: classify(err), detail: err.code ?? err.message }),
    );
    socket.on("message", (msg) => {
      const view = parseView(msg.toString("utf8"));
      done(view ? { outcome: "reply", view } : { outcome: "error", detail: "unexpected datagram" });
    });
    socket.connect(port, address, () => socket.send("probe\n"));
  });
}

/** Runs one probe in this process's network namespace. */
export async function probe(options: {
  protocol: ProbeProtocol;
  address: string;
  port: number;
  timeoutMs: number;
  host?: string;
}): Promise<ProbeResult> {
  const start = performance.now();
  const { protocol, address, port, timeoutMs } = options;
  const r =
    protocol === "tcp"
      ? await probeTcp(address, port, timeoutMs)
      : protocol === "udp"
        ? await probeUdp(address, port, timeoutMs)
        : await probeHttp(address, port, timeoutMs, options.host);
  return { ...r, ms: Math.round(performance.now() - start) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      protocol: { type: "string", default: "tcp" },
      address: { type: "string" },
      port: { type: "string" },
      "timeout-ms": { type: "string", default: "2000" },
      host: { type: "string" },
    },
  });
  const protocol = values.protocol as ProbeProtocol;
  if (!["tcp", "udp", "http"].includes(protocol) || !values.address || !values.port) {
    throw new Error("usage: lab-probe.ts --protocol tcp|udp|http --address <ip> --port <n>");
  }
  const result = await probe({
    protocol,
    address: values.address,
    port: Number(values.port),
    timeoutMs: Number(values["timeout-ms"]),
    ...(values.host ? { host: values.host } : {}),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`lab-probe: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  });
}

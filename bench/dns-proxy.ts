// DNS proxy benchmark: egress-router's TCP forwarder beside HAProxy configured as OpenShift's
// egress-dns-proxy image configures it (plus nbthread = cores), with kernel NAT (nft DNAT,
// what redirect mode does) as the physical limit, all in one run on one machine.
//
// Everything runs inside a network namespace this script creates (loopback only) and
// removes at the end. The contenders take turns in many short rounds (the order rotating),
// so a burst of load from elsewhere on the machine hits one round, not one contender; the
// tables give medians over the rounds:
//   new connections/s     wrk, a new TCP connection per HTTP request (Connection: close)
//   CPU per connection    the proxy process's CPU time (user + system, all threads) during
//                         those runs, divided by the connections it carried: the cost of
//                         a connection, much less sensitive to other load than a rate
//   connect latency       time from connect() to the backend's first byte, at 100 conn/s,
//                         while wrk saturates the proxy with new connections; percentiles
//                         of all rounds' samples together
//   throughput            iperf3, 1 stream and 8 streams
//   idle memory           RSS with N idle connections held open (N = 10 000, or what the
//                         file-descriptor limit allows)
// Usage (as root): node bench/dns-proxy.ts [--rounds 9] [--seconds 3] [--json out.json]
//                                         [--threads N] (egress-router's forwarding threads)
// Benchmarks never fail on speed: the exit code is non-zero only when a tool is missing or
// a contender could not be measured at all.
import type { ChildProcess } from "node:child_process";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "9" },
    seconds: { type: "string", default: "3" },
    json: { type: "string" },
    idle: { type: "string" },
    // egress-router's forwarding threads (EGRESS_DNS_PROXY_THREADS); default: its own (cores)
    threads: { type: "string" },
  },
});
const rounds = Number(args.rounds);
const seconds = Number(args.seconds);
/** throughput rounds: fewer, longer runs are steadier for bulk transfers */
const throughputRounds = Math.max(1, Math.ceil(rounds / 2));
const cores = availableParallelism();
const root = fileURLToPath(new URL("..", import.meta.url));
const node = join(root, "node_modules/node/bin/node");
const ns = `egress-bench-${process.pid}`;
const work = join(tmpdir(), `egress-bench-${process.pid}`);

/**
 * "egress-router, debug" is the same program with EGRESS_DNS_PROXY_DEBUG set: a log line for
 * every connection opened and one for every connection closed, read from a pipe as a
 * container runtime would. "node floor" is bench/raw-forwarder.ts: the same byte path on
 * the same threads with nothing around it, the least a Node.js forwarder costs per
 * connection. Both are measured on new connections only.
 */
type Contender = "egress-router" | "egress-router, debug" | "node floor" | "haproxy" | "kernel-nat";
const contenders: readonly Contender[] = ["egress-router", "haproxy", "kernel-nat"];
const connContenders: readonly Contender[] = [...contenders, "egress-router, debug", "node floor"];
/** Each contender forwards three ports: to the HTTP backend, to iperf3, to the banner server. */
const ports: Record<Contender, { http: number; iperf: number; banner: number }> = {
  "egress-router": { http: 7000, iperf: 7001, banner: 7002 },
  "egress-router, debug": { http: 7100, iperf: 7101, banner: 7102 },
  "node floor": { http: 7200, iperf: 7201, banner: 7202 },
  haproxy: { http: 6000, iperf: 6001, banner: 6002 },
  "kernel-nat": { http: 8000, iperf: 8001, banner: 8002 },
};
const backend = { http: 5000, iperf: 5201, banner: 5300 };

const children = new Set<ChildProcess>();
/** warning and error lines of the egress-router processes, by variant, level and message */
const complaints = new Map<string, number>();
let loadAtStart = "";

function sh(cmd: string, argv: string[], input?: string): string {
  return execFileSync(cmd, argv, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
}

function inNs(cmd: string, argv: string[]): string {
  return sh("ip", ["netns", "exec", ns, cmd, ...argv]);
}

function spawnInNs(
  cmd: string,
  argv: string[],
  env: Record<string, string> = {},
  stdout: "pipe" | "ignore" = "ignore",
  stderr: "inherit" | "ignore" = "inherit",
): ChildProcess {
  const child = spawn("ip", ["netns", "exec", ns, cmd, ...argv], {
    env: { ...process.env, ...env },
    stdio: ["ignore", stdout, stderr],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5000);
  await once(child, "exit");
  clearTimeout(t);
}

async function firstLine(child: ChildProcess, timeoutMs = 120_000): Promise<string> {
  const out = child.stdout;
  if (!out) throw new Error("no stdout");
  let text = "";
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no output within ${timeoutMs} ms`)), timeoutMs);
    out.setEncoding("utf8");
    out.on("data", (d: string) => {
      text += d;
      const nl = text.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(t);
        resolve(text.slice(0, nl));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`exited (${code}) before answering`));
    });
  });
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const listening = inNs("ss", ["-Htln", `sport = :${port}`]).trim() !== "";
    if (listening) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on port ${port}`);
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? NaN);
}

function median(xs: number[]): number {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function haproxyConfig(maxconn: number): string {
  // OpenShift's egress-dns-proxy template (global + defaults as it writes them), one
  // frontend/backend pair per rule with `check`, plus nbthread = cores. Left out: chroot,
  // user/group and pidfile (we run it in the namespace as it is).
  const p = ports.haproxy;
  const pairs = [
    [p.http, backend.http],
    [p.iperf, backend.iperf],
    [p.banner, backend.banner],
  ];
  return `global
    log         127.0.0.1 local2
    maxconn     ${maxconn}
    nbthread    ${cores}

defaults
    log                     global
    mode                    tcp
    option                  dontlognull
    option                  tcplog
    option                  redispatch
    retries                 3
    timeout http-request    100s
    timeout queue           1m
    timeout connect         10s
    timeout client          1m
    timeout server          1m
    timeout http-keep-alive 100s
    timeout check           10s
${pairs
  .map(
    ([from, to], i) => `
frontend fe${i + 1}
    bind :${from}
    default_backend be${i + 1}

backend be${i + 1}
    server dest1 127.0.0.1:${to} check
`,
  )
  .join("")}`;
}

const httpBackendConfig = `global
    maxconn 8000
    nbthread 1
defaults
    mode http
    timeout connect 10s
    timeout client 1m
    timeout server 1m
frontend be
    bind 127.0.0.1:${backend.http}
    http-request return status 200 content-type text/plain string ok
`;

interface Running {
  readonly child: ChildProcess;
  readonly pid: number;
}

async function startHaproxy(maxconn: number): Promise<Running> {
  const file = join(work, `haproxy-${maxconn}.cfg`);
  writeFileSync(file, haproxyConfig(maxconn));
  const child = spawnInNs("haproxy", ["-db", "-f", file]);
  await waitPort(ports.haproxy.banner);
  return { child, pid: child.pid ?? 0 };
}

async function startEgressRouter(
  maxConnections: number,
  variant: "egress-router" | "egress-router, debug" = "egress-router",
): Promise<Running> {
  const p = ports[variant];
  const rules = [
    `${p.http} 127.0.0.1 ${backend.http}`,
    `${p.iperf} 127.0.0.1 ${backend.iperf}`,
    `${p.banner} 127.0.0.1 ${backend.banner}`,
  ].join("\n");
  // As shipped: defaults everywhere (threads = cores, health checks, keep-alive, logs at
  // info: no line per connection unless EGRESS_DNS_PROXY_DEBUG), except the connection
  // limit for the idle-memory phase. The debug variant's lines go through a pipe this
  // process drains. Warnings and errors of either are kept for the summary at the end
  // (a failed connect to the backend, for instance, is one).
  const debug = variant === "egress-router, debug";
  const child = spawnInNs(
    join(root, "bin/egress-router"),
    ["dns-proxy"],
    {
      EGRESS_DNS_PROXY_DESTINATION: rules,
      EGRESS_DNS_PROXY_MAX_CONNECTIONS: String(maxConnections),
      EGRESS_ADMIN_PORT: "0",
      EGRESS_LOG_FORMAT: "json",
      ...(args.threads !== undefined ? { EGRESS_DNS_PROXY_THREADS: args.threads } : {}),
      ...(debug ? { EGRESS_DNS_PROXY_DEBUG: "1" } : {}),
    },
    "pipe",
  );
  let partial = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    const text = partial + d;
    const end = text.lastIndexOf("\n");
    partial = text.slice(end + 1);
    if (!text.includes('"level":"warn"') && !text.includes('"level":"error"')) return;
    for (const line of text.slice(0, end).split("\n")) {
      const m = /"level":"(warn|error)".*"msg":"([^"]*)"/.exec(line);
      if (!m) continue;
      const key = `${variant}: ${m[1]} "${m[2]}"`;
      complaints.set(key, (complaints.get(key) ?? 0) + 1);
    }
  });
  await waitPort(p.banner);
  return { child, pid: child.pid ?? 0 };
}

function setUpNat(): void {
  const p = ports["kernel-nat"];
  const rule = (from: number, to: number): string =>
    `    ip daddr 127.0.0.1 tcp dport ${from} dnat to 127.0.0.1:${to}`;
  sh(
    "ip",
    ["netns", "exec", ns, "nft", "-f", "-"],
    `table ip benchnat {
  chain output {
    type nat hook output priority -100; policy accept;
${rule(p.http, backend.http)}
${rule(p.iperf, backend.iperf)}
${rule(p.banner, backend.banner)}
  }
}
`,
  );
}

/** CPU time (user + system, every thread) of a process so far, in microseconds. */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 per second).
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

interface ConnRound {
  readonly rate: number;
  readonly errors: number;
  /** wrk's error counts by kind, e.g. "read 3, timeout 1" ("" without errors) */
  readonly errorKinds: string;
  readonly samples: number[];
  /** the proxy's CPU per connection, µs; NaN for kernel NAT */
  readonly cpuPerConnection: number;
}

async function connectionsPerSecond(
  port: number,
  bannerPort: number,
  pid: number | undefined,
): Promise<ConnRound> {
  const cpuBefore = pid === undefined ? NaN : cpuMicros(pid);
  // The probe starts with wrk and ends before it: its samples are all taken under load.
  const wrk = spawnInNs(
    "wrk",
    [
      `-t${cores}`,
      "-c64",
      `-d${seconds + 1}s`,
      "-H",
      "Connection: close",
      `http://127.0.0.1:${port}/`,
    ],
    {},
    "pipe",
  );
  const wrkExit = once(wrk, "exit");
  let out = "";
  wrk.stdout?.setEncoding("utf8").on("data", (d: string) => (out += d));
  const probe = spawnInNs(
    node,
    [join(root, "bench/tcp-peers.ts"), "probe", String(bannerPort), "100", String(seconds - 1)],
    {},
    "pipe",
  );
  const latency = JSON.parse(await firstLine(probe)) as { n: number; samples: number[] };
  await wrkExit;
  const cpu = pid === undefined ? NaN : cpuMicros(pid) - cpuBefore;
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = (errs ? errs.slice(1).reduce((n, x) => n + Number(x), 0) : 0) + non2xx;
  const kinds = ["connect", "read", "write", "timeout"]
    .map((k, i) => [k, Number(errs?.[i + 1] ?? 0)] as const)
    .concat([["non-2xx", non2xx]])
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return {
    rate,
    errors,
    errorKinds: kinds,
    samples: latency.samples,
    cpuPerConnection: cpu / (requests + latency.n),
  };
}

function percentile(samples: readonly number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}

function throughput(port: number, streams: number): number {
  const out = inNs("iperf3", [
    "-c",
    "127.0.0.1",
    "-p",
    String(port),
    "-t",
    String(seconds),
    "-O",
    "1",
    "-P",
    String(streams),
    "-J",
  ]);
  const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
  return j.end.sum_received.bits_per_second / 1e9;
}

async function idleMemory(
  run: Running,
  port: number,
  count: number,
): Promise<{ mib: number; perConnectionKiB: number }> {
  const before = rssKiB(run.pid);
  const holder = spawnInNs(
    node,
    [join(root, "bench/tcp-peers.ts"), "hold", String(port), String(count)],
    {},
    "pipe",
  );
  const r = JSON.parse(await firstLine(holder)) as { ready: number; failed: number };
  await new Promise((res) => setTimeout(res, 1000));
  const after = rssKiB(run.pid);
  await stop(holder);
  if (r.failed > 0) process.stderr.write(`idle memory: ${r.failed} connections failed\n`);
  process.stderr.write(`  ${r.ready} idle connections: RSS ${before} KiB → ${after} KiB\n`);
  return { mib: after / 1024, perConnectionKiB: (after - before) / Math.max(1, r.ready) };
}

function fmt(x: number, digits = 0): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

async function main(): Promise<void> {
  for (const tool of ["ip", "nft", "haproxy", "wrk", "iperf3", "ss"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      throw new Error(`${tool} is missing; run scripts/install.sh`);
    }
  }
  loadAtStart = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  mkdirSync(work, { recursive: true });
  sh("ip", ["netns", "add", ns]);
  inNs("ip", ["link", "set", "lo", "up"]);
  // Room for many short connections on loopback: ephemeral ports above our fixed ports,
  // TIME_WAIT reuse for the clients.
  inNs("sysctl", ["-q", "-w", "net.ipv4.ip_local_port_range=20000 65000"]);
  inNs("sysctl", ["-q", "-w", "net.ipv4.tcp_tw_reuse=1"]);
  inNs("sysctl", ["-q", "-w", "net.core.somaxconn=4096"]);
  // Kernel NAT tracks every connection; closed ones linger in TIME_WAIT for 2 minutes and,
  // at thousands a second, fill the table (then new connections are dropped). This
  // namespace's own setting, so NAT is measured as a router would run it after tuning.
  try {
    inNs("sysctl", ["-q", "-w", "net.netfilter.nf_conntrack_tcp_timeout_time_wait=1"]);
  } catch {
    process.stderr.write("bench: conntrack not loaded yet; NAT rounds may hit a full table\n");
  }

  const httpCfg = join(work, "backend.cfg");
  writeFileSync(httpCfg, httpBackendConfig);
  spawnInNs("haproxy", ["-db", "-f", httpCfg]);
  // Quiet: both proxies' health checks connect to it and leave, which iperf3 complains about.
  spawnInNs(
    "iperf3",
    ["-s", "-B", "127.0.0.1", "-p", String(backend.iperf)],
    {},
    "ignore",
    "ignore",
  );
  const banner = spawnInNs(
    node,
    [join(root, "bench/tcp-peers.ts"), "banner-server", String(backend.banner)],
    {},
    "pipe",
  );
  await firstLine(banner);
  await waitPort(backend.http);
  await waitPort(backend.iperf);

  setUpNat();
  let haproxy = await startHaproxy(4000);
  let ours = await startEgressRouter(4000);
  const debugRun = await startEgressRouter(4000, "egress-router, debug");
  const floor = spawnInNs(node, [
    "--disable-warning=ExperimentalWarning",
    join(root, "bench/raw-forwarder.ts"),
    `${ports["node floor"].http}:${backend.http}`,
    `${ports["node floor"].banner}:${backend.banner}`,
  ]);
  await waitPort(ports["node floor"].banner);

  const results: Record<string, Record<Contender, number[]>> = {};
  const record = (metric: string, c: Contender, v: number): void => {
    results[metric] ??= {
      "egress-router": [],
      "egress-router, debug": [],
      "node floor": [],
      haproxy: [],
      "kernel-nat": [],
    };
    results[metric][c].push(v);
  };
  const order = (round: number, list = contenders): Contender[] =>
    list.map((_, i) => list[(i + round) % list.length] as Contender);

  const pids: Record<Contender, number | undefined> = {
    "egress-router": ours.pid,
    "egress-router, debug": debugRun.pid,
    "node floor": floor.pid,
    haproxy: haproxy.pid,
    "kernel-nat": undefined,
  };
  const latencies: Record<Contender, number[]> = {
    "egress-router": [],
    "egress-router, debug": [],
    "node floor": [],
    haproxy: [],
    "kernel-nat": [],
  };
  process.stderr.write(`warming up…\n`);
  for (const c of connContenders)
    await connectionsPerSecond(ports[c].http, ports[c].banner, pids[c]);

  for (let round = 0; round < rounds; round++) {
    for (const c of order(round, connContenders)) {
      const r = await connectionsPerSecond(ports[c].http, ports[c].banner, pids[c]);
      process.stderr.write(
        `round ${round + 1} ${c}: ${fmt(r.rate)} conn/s (${r.errors} errors${r.errorKinds ? `: ${r.errorKinds}` : ""}), ${fmt(r.cpuPerConnection)} µs CPU per connection, connect p50 ${fmt(percentile(r.samples, 0.5), 2)} ms\n`,
      );
      record("new connections/s", c, r.errors > r.rate * seconds * 0.01 ? NaN : r.rate);
      record("CPU µs per connection (proxy process)", c, r.cpuPerConnection);
      latencies[c].push(...r.samples);
    }
  }
  for (const c of connContenders) {
    record("connect latency p50 ms (under load)", c, percentile(latencies[c], 0.5));
    record("connect latency p99 ms (under load)", c, percentile(latencies[c], 0.99));
  }
  for (let round = 0; round < throughputRounds; round++) {
    for (const streams of [1, 8]) {
      for (const c of order(round)) {
        const g = throughput(ports[c].iperf, streams);
        process.stderr.write(`round ${round + 1} ${c}: ${streams} stream(s) ${fmt(g, 2)} Gbit/s\n`);
        record(`${streams}-stream throughput Gbit/s`, c, g);
      }
    }
  }

  // Idle memory: both proxies restarted with room for the connections. HAProxy wants two
  // descriptors per connection and a few more under the hard limit, or it does not start.
  const limit = Number(sh("sh", ["-c", "ulimit -Hn"]).trim());
  const idle = Math.min(Number(args.idle ?? 10_000), Math.floor((limit - 300) / 2) - 100);
  try {
    await Promise.all([stop(haproxy.child), stop(ours.child), stop(debugRun.child), stop(floor)]);
    haproxy = await startHaproxy(idle + 50);
    ours = await startEgressRouter(idle + 50);
    await new Promise((r) => setTimeout(r, 1000));
    process.stderr.write(`idle memory with ${idle} connections (fd limit ${limit})\n`);
    record("RSS MiB, no connections", "egress-router", rssKiB(ours.pid) / 1024);
    record("RSS MiB, no connections", "haproxy", rssKiB(haproxy.pid) / 1024);
    for (const [c, run] of [
      ["egress-router", ours],
      ["haproxy", haproxy],
    ] as const) {
      const m = await idleMemory(run, ports[c].banner, idle);
      record(`RSS MiB with ${idle} idle connections`, c, m.mib);
      record("RSS KiB per idle connection", c, m.perConnectionKiB);
    }
  } catch (err) {
    // The other measurements stand; say what is missing.
    process.stderr.write(`bench: idle memory not measured: ${(err as Error).message}\n`);
  }

  const table = [
    `| metric | egress-router | HAProxy 2.6 | kernel NAT | egress-router / HAProxy | NAT / HAProxy | egress-router with a log line per connection / HAProxy | node floor / HAProxy |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
  ];
  const digits = (m: string): number =>
    m.includes("Gbit") || m.includes(" ms") ? 2 : m.includes("KiB") ? 1 : 0;
  // Lower is better for latency, CPU and memory: the ratio reads the same way either way.
  for (const [metric, byC] of Object.entries(results)) {
    const med = {
      ours: median(byC["egress-router"]),
      debug: median(byC["egress-router, debug"]),
      floor: median(byC["node floor"]),
      haproxy: median(byC.haproxy),
      nat: median(byC["kernel-nat"]),
    };
    const ratio = (x: number): string =>
      Number.isFinite(x / med.haproxy) ? `${fmt(x / med.haproxy, 2)}x` : "";
    table.push(
      `| ${metric} | ${fmt(med.ours, digits(metric))} | ${fmt(med.haproxy, digits(metric))} | ${fmt(med.nat, digits(metric))} | ${ratio(med.ours)} | ${ratio(med.nat)} | ${ratio(med.debug)} | ${ratio(med.floor)} |`,
    );
  }
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const kernel = sh("uname", ["-r"]).trim();
  const haproxyVersion = /version (\S+)/.exec(sh("haproxy", ["-v"]))?.[1] ?? "?";
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const header = `${new Date().toISOString().slice(0, 10)}, ${cores} cores (${cpu}), Linux ${kernel}, Node ${process.versions.node}, HAProxy ${haproxyVersion}; new connections: ${rounds} rounds of ${seconds + 1} s, throughput: ${throughputRounds} rounds of ${seconds} s, medians over rounds; egress-router threads: ${args.threads ?? "default (cores)"}; load average at the start ${loadAtStart}, at the end ${load}`;
  process.stdout.write(`\n${header}\n\n${table.join("\n")}\n`);
  const logged = [...complaints].map(([k, n]) => `  ${n} × ${k}`);
  process.stderr.write(
    logged.length > 0
      ? `egress-router log lines at warn or error:\n${logged.join("\n")}\n`
      : "egress-router logged no warning or error\n",
  );
  if (args.json) writeFileSync(args.json, JSON.stringify({ header, results }, null, 2));
}

async function cleanup(): Promise<void> {
  await Promise.all([...children].map((c) => stop(c)));
  try {
    sh("ip", ["netns", "delete", ns]);
  } catch {
    // already gone
  }
  rmSync(work, { recursive: true, force: true });
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void cleanup().then(() => process.exit(130));
  });
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}

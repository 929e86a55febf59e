// HTTP proxy benchmark: egress-router's HTTP proxy and Squid configured as OpenShift's
// egress-http-proxy image configures it, side by side in the same run on the same machine,
// loopback only. Each measure runs on both proxies back to back, in alternating order; the
// report gives medians and the median of the pairs' ratios (ours / Squid), so that a change
// of the machine's background load between measures does not decide the result. Benchmarks
// never fail: the bars are printed, not asserted.
//
//   node bench/http-proxy.ts [--rounds 5] [--seconds 5] [--connections 64] [--workers auto]
//                            [--idle-connections 10000] [--json out.json] [--log-level info|warn]
//                            [--phases small,post,big,connect,fixed,idle]
//
// Needs: squid, haproxy (origin server), wrk, socat. Measures:
//   small   requests/s and p99 latency, 12-byte bodies, keep-alive, wrk at N connections
//   POST    requests/s of POSTs with a 1 KiB JSON body (an API's calls), 12-byte answers
//   1 MB    requests/s (and MB/s) of 1 MB bodies at N connections
//   CONNECT MB/s through 8 tunnels, each reading an endless stream
//   fixed rate  p50/p99 latency at half of Squid's small-request throughput (open loop)
//   RSS     idle at start, idle after the load, and with 10 000 idle client connections
//   TCP floor  small requests through bench/raw-forwarder.ts instead of a proxy: the same
//           bytes spliced to the origin on raw TCP handles, no HTTP at all (two reads and
//           two writes per request, a thread per core); what no Node.js HTTP proxy can beat
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    seconds: { type: "string", default: "5" },
    connections: { type: "string", default: "64" },
    workers: { type: "string", default: "auto" },
    "idle-connections": { type: "string", default: "10000" },
    json: { type: "string" },
    // info: one log line per decision and per connection (the product's default); warn: none
    "log-level": { type: "string", default: "info" },
    // a subset of the measures, e.g. "connect" or "small,fixed" (quicker runs while tuning)
    phases: { type: "string", default: "small,post,big,connect,fixed,idle" },
  },
});
const PHASES = new Set(args.phases.split(","));
const NO_WRK: Wrk = { rps: NaN, p99ms: NaN, mbps: NaN, errors: 0, cpu: NaN, seconds: NaN };
const ROUNDS = Number(args.rounds);
const SECONDS = Number(args.seconds);
const CONNS = Number(args.connections);
const IDLE = Number(args["idle-connections"]);
const TUNNELS = 8;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const began = performance.now();
const progress = (what: string) =>
  process.stderr.write(`bench: ${((performance.now() - began) / 1000).toFixed(0)} s: ${what}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
};

async function freePort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as net.AddressInfo;
  s.close();
  return port;
}

const dir = mkdtempSync(join(tmpdir(), "egress-router-bench-"));
const children: ChildProcess[] = [];
function start(cmd: string, argv: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const c = spawn(cmd, argv, { stdio: ["ignore", "ignore", "pipe"], env: env ?? process.env });
  let err = "";
  c.stderr?.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  c.on("exit", (code) => {
    if (!stopping && code !== 0) process.stderr.write(`bench: ${cmd} exited ${code}: ${err}\n`);
  });
  children.push(c);
  return c;
}
let stopping = false;
async function cleanup() {
  stopping = true;
  for (const c of children) c.kill("SIGTERM");
  await sleep(300);
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
process.once("SIGINT", () => void cleanup().then(() => process.exit(130)));

/** Ask through `proxyPort` until an answer comes (the proxy is up and forwarding). */
async function waitForward(proxyPort: number, target: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const { stdout } = await run("curl", [
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-m",
        "2",
        "-x",
        `http://127.0.0.1:${proxyPort}`,
        target,
      ]);
      if (stdout === "200") return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`proxy on ${proxyPort} did not come up`);
    await sleep(200);
  }
}

/** Resident memory of a process and all its descendants, MiB. */
function rssTree(pid: number): number {
  let kb = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop() as number;
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      kb += Number(m?.[1] ?? 0);
      for (const t of readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(/\s+/)) {
        if (t) stack.push(Number(t));
      }
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

/** CPU seconds (user + system) used so far by a process and its descendants. */
function cpuTree(pid: number): number {
  let ticks = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop() as number;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
      for (const t of readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(/\s+/)) {
        if (t) stack.push(Number(t));
      }
    } catch {
      // gone
    }
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}

interface Wrk {
  rps: number;
  p99ms: number;
  mbps: number;
  errors: number;
  /** CPU seconds the proxy used during the run */
  cpu: number;
  seconds: number;
}

function ms(text: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

/** The body of the POST measure: 1 KiB of JSON, as an API call might send. */
const POST_BODY = JSON.stringify({ payment: { amount: "12.34", memo: "x".repeat(980) } });

async function wrk(
  proxyPid: number,
  proxyPort: number,
  target: string,
  seconds: number,
  body?: string,
): Promise<Wrk> {
  const cpu0 = cpuTree(proxyPid);
  const u = new URL(target);
  const script = join(dir, `wrk-${u.port}${body === undefined ? "" : "-post"}.lua`);
  const post =
    body === undefined
      ? ""
      : `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(body)}\n`;
  writeFileSync(script, `wrk.path = "${target}"\nwrk.headers["Host"] = "${u.host}"\n${post}`);
  const { stdout } = await run(
    "wrk",
    [
      "-t2",
      `-c${CONNS}`,
      `-d${seconds}s`,
      "--latency",
      "-s",
      script,
      `http://127.0.0.1:${proxyPort}/`,
    ],
    { maxBuffer: 1 << 20 },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const p99 = ms(/\s99%\s+(\S+)/.exec(stdout)?.[1] ?? "");
  const tr = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(stdout);
  const mbps = tr ? Number(tr[1]) * (tr[2] === "GB" ? 1024 : tr[2] === "KB" ? 1 / 1024 : 1) : NaN;
  const errs =
    Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0) +
    Number(/Socket errors:.*?read (\d+)/.exec(stdout)?.[1] ?? 0);
  return { rps, p99ms: p99, mbps, errors: errs, cpu: cpuTree(proxyPid) - cpu0, seconds };
}

/** MB/s through `TUNNELS` CONNECT tunnels reading an endless stream for `seconds`. */
async function connectThroughput(
  proxyPid: number,
  proxyPort: number,
  sourcePort: number,
  seconds: number,
): Promise<{ mbps: number; cpuPerGB: number }> {
  let bytes = 0;
  let counting = false;
  // Each tunnel is read into one reused 64 KiB buffer, as most HTTPS clients read, rather
  // than into a new buffer per read (node's default), which made this reader the slowest
  // part of the measurement whichever proxy was measured.
  const sockets = await Promise.all(
    Array.from({ length: TUNNELS }, async () => {
      let head = true;
      let text = "";
      const buffer = Buffer.allocUnsafe(64 * 1024);
      const s = net.connect({
        port: proxyPort,
        host: "127.0.0.1",
        onread: {
          buffer,
          callback: (n: number) => {
            if (head) {
              text += buffer.toString("latin1", 0, n);
              const i = text.indexOf("\r\n\r\n");
              if (i === -1) return true;
              if (!text.startsWith("HTTP/1.1 200") && !text.startsWith("HTTP/1.0 200"))
                throw new Error(`CONNECT refused: ${text.slice(0, 80)}`);
              head = false;
              if (counting) bytes += text.length - i - 4;
              return true;
            }
            if (counting) bytes += n;
            return true;
          },
        },
      });
      await once(s, "connect");
      s.write(`CONNECT 127.0.0.1:${sourcePort} HTTP/1.1\r\nHost: 127.0.0.1:${sourcePort}\r\n\r\n`);
      s.on("error", () => undefined);
      return s;
    }),
  );
  await sleep(500); // let the tunnels reach their pace
  counting = true;
  const cpu0 = cpuTree(proxyPid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  counting = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuTree(proxyPid) - cpu0;
  for (const s of sockets) s.destroy();
  return { mbps: bytes / elapsed / (1024 * 1024), cpuPerGB: cpu / (bytes / 1024 ** 3) };
}

/** Open-loop load at `rate` requests/s over `conns` keep-alive connections; latency from the scheduled time. */
async function fixedRate(
  proxyPort: number,
  target: string,
  rate: number,
  seconds: number,
): Promise<{ p50: number; p99: number; done: number; late: number }> {
  const u = new URL(target);
  const request = `GET ${target} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`;
  const lat: number[] = [];
  const pending: number[] = [];
  const free: net.Socket[] = [];
  const sent = new Map<net.Socket, number>();
  const conns = await Promise.all(
    Array.from({ length: CONNS }, async () => {
      const s = net.connect({ port: proxyPort, host: "127.0.0.1", noDelay: true });
      await once(s, "connect");
      let buf = "";
      s.on("data", (c: Buffer) => {
        buf += c.toString("latin1");
        for (;;) {
          const i = buf.indexOf("\r\n\r\n");
          if (i === -1) return;
          const len = Number(/content-length:\s*(\d+)/i.exec(buf.slice(0, i))?.[1] ?? 0);
          if (buf.length < i + 4 + len) return;
          buf = buf.slice(i + 4 + len);
          lat.push(performance.now() - (sent.get(s) ?? 0));
          const next = pending.shift();
          if (next === undefined) free.push(s);
          else {
            sent.set(s, next);
            s.write(request);
          }
        }
      });
      s.on("error", () => undefined);
      free.push(s);
      return s;
    }),
  );
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  let late = 0;
  for (let i = 0; i < total; i++) {
    const at = t0 + (i * 1000) / rate;
    const wait = at - performance.now();
    if (wait > 1) await sleep(wait);
    const s = free.pop();
    if (s === undefined) {
      pending.push(at);
      late++;
    } else {
      sent.set(s, at);
      s.write(request);
    }
  }
  const deadline = performance.now() + 10_000;
  while (lat.length < total && performance.now() < deadline) await sleep(20);
  for (const s of conns) s.destroy();
  const sorted = [...lat].sort((a, b) => a - b);
  const q = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
  return { p50: q(0.5), p99: q(0.99), done: lat.length, late };
}

/** RSS of `pid`'s tree with `n` idle client connections open to `port`. */
async function rssWithIdle(
  pid: number,
  port: number,
  n: number,
): Promise<{ before: number; rss: number; open: number }> {
  const before = rssTree(pid);
  const sockets: net.Socket[] = [];
  for (let i = 0; i < n; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, n - i) }, async () => {
        const s = net.connect({ port, host: "127.0.0.1" });
        s.on("error", () => undefined);
        sockets.push(s);
        await Promise.race([once(s, "connect"), sleep(5000)]);
      }),
    );
  }
  await sleep(2000);
  const open = sockets.filter((s) => !s.destroyed && s.readyState === "open").length;
  const rss = rssTree(pid);
  for (const s of sockets) s.destroy();
  await sleep(1000);
  return { before, rss, open };
}

const loadBefore = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

async function main() {
  const file = join(dir, "1mb.bin");
  writeFileSync(file, Buffer.alloc(1024 * 1024, "x"));
  const ports: number[] = [];
  for (let i = 0; i < 7; i++) ports.push(await freePort());
  const [
    smallPort = 0,
    bigPort = 0,
    sourcePort = 0,
    squidPort = 0,
    oursPort = 0,
    adminPort = 0,
    floorPort = 0,
  ] = ports;
  writeFileSync(
    join(dir, "haproxy.cfg"),
    `global\n  maxconn 4000\n  tune.bufsize 1100000\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n` +
      // http-buffer-request: a POST is answered once its body is in, as an API server would;
      // answered on its head alone, HAProxy closed about four in ten connections after one.
      `frontend small\n  bind 127.0.0.1:${smallPort}\n  option http-buffer-request\n  http-request return status 200 content-type text/plain string "hello world\\n"\n` +
      `frontend big\n  bind 127.0.0.1:${bigPort}\n  http-request return status 200 content-type application/octet-stream file ${file}\n`,
  );
  start("haproxy", ["-f", join(dir, "haproxy.cfg"), "-db"]);
  start("socat", [
    "-b",
    "131072",
    `TCP-LISTEN:${sourcePort},bind=127.0.0.1,reuseaddr,fork`,
    "OPEN:/dev/zero",
  ]);
  // Squid exactly as OpenShift's egress-http-proxy.sh writes it, for the rule "*",
  // listening on loopback instead of 8080.
  writeFileSync(
    join(dir, "squid.conf"),
    `http_port 127.0.0.1:${squidPort}\ncache deny all\naccess_log none all\ndebug_options ALL,0\nshutdown_lifetime 0\npid_filename none\n\nhttp_access allow all\n`,
  );
  const squid = start("squid", ["-N", "-f", join(dir, "squid.conf")]);
  const ours = start(join(root, "bin/egress-router"), ["http-proxy"], {
    ...process.env,
    EGRESS_HTTP_PROXY_DESTINATION: "127.0.0.0/8\n*",
    EGRESS_HTTP_PROXY_ADDRESS: "127.0.0.1",
    EGRESS_HTTP_PROXY_PORT: String(oursPort),
    EGRESS_HTTP_PROXY_WORKERS: args.workers,
    EGRESS_HTTP_PROXY_MAX_CONNECTIONS: String(Math.max(20_000, IDLE * 2)),
    EGRESS_ADMIN_ADDRESS: "127.0.0.1",
    EGRESS_ADMIN_PORT: String(adminPort),
    EGRESS_LOG_FORMAT: "json",
    EGRESS_LOG_LEVEL: args["log-level"],
  });
  // The TCP floor: wrk's absolute-form requests go byte for byte to the origin, which
  // answers them as it answers the proxies.
  const floor = start(process.execPath, [
    "--disable-warning=ExperimentalWarning",
    join(root, "bench/raw-forwarder.ts"),
    `${floorPort}:${smallPort}`,
  ]);
  const small = `http://127.0.0.1:${smallPort}/`;
  const big = `http://127.0.0.1:${bigPort}/`;
  progress("starting the proxies");
  await Promise.all([
    waitForward(squidPort, small),
    waitForward(oursPort, small),
    waitForward(floorPort, small),
  ]);
  progress("both proxies answer");
  const proxies = [
    { name: "squid", port: squidPort, pid: squid.pid ?? 0 },
    { name: "ours", port: oursPort, pid: ours.pid ?? 0 },
  ] as const;
  const rssIdle = { squid: rssTree(squid.pid ?? 0), ours: rssTree(ours.pid ?? 0) };

  type Name = (typeof proxies)[number]["name"];
  type Tunnel = { mbps: number; cpuPerGB: number };
  type Samples = { small: Wrk[]; post: Wrk[]; big: Wrk[]; connect: Tunnel[] };
  const samples: Record<Name, Samples> = {
    squid: { small: [], post: [], big: [], connect: [] },
    ours: { small: [], post: [], big: [], connect: [] },
  };
  const floorSmall: Wrk[] = [];
  for (const p of proxies) await wrk(p.pid, p.port, small, 2); // warm-up (JIT, pools)
  if (PHASES.has("small")) await wrk(floor.pid ?? 0, floorPort, small, 2);
  // Each measure runs on both proxies back to back, the order alternating, so that the two
  // numbers of a pair saw the same background load: on a shared machine the load changes
  // from one minute to the next, and the ratio column is the median of the pairs' ratios.
  const measures = ["small", "post", "big", "connect"] as const;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, measure] of measures.entries()) {
      const order = (r + k) % 2 === 0 ? proxies : [...proxies].reverse();
      for (const p of order) {
        if (!PHASES.has(measure)) {
          if (measure === "connect") samples[p.name].connect.push({ mbps: NaN, cpuPerGB: NaN });
          else samples[p.name][measure].push(NO_WRK);
          continue;
        }
        if (measure === "small" && p === order[0] && r % 2 === 1) await measureFloor(r);
        progress(`round ${r + 1}/${ROUNDS} ${measure} ${p.name}`);
        if (measure === "connect")
          samples[p.name].connect.push(await connectThroughput(p.pid, p.port, sourcePort, SECONDS));
        else
          samples[p.name][measure].push(
            await wrk(
              p.pid,
              p.port,
              measure === "big" ? big : small,
              SECONDS,
              measure === "post" ? POST_BODY : undefined,
            ),
          );
        if (measure === "small" && p === order[1] && r % 2 === 0) await measureFloor(r);
      }
    }
  }
  /** the floor runs next to the round's pair: after it in even rounds, before it in odd ones */
  async function measureFloor(r: number): Promise<void> {
    progress(`round ${r + 1}/${ROUNDS} small TCP floor`);
    floorSmall.push(await wrk(floor.pid ?? 0, floorPort, small, SECONDS));
  }
  const squidRps = median(samples.squid.small.map((w) => w.rps));
  const rate = Number.isNaN(squidRps) ? 2000 : Math.max(100, Math.round(squidRps / 2));
  const fixed: Record<Name, Awaited<ReturnType<typeof fixedRate>>> = {} as never;
  for (const p of proxies) {
    if (!PHASES.has("fixed")) {
      fixed[p.name] = { p50: NaN, p99: NaN, done: 0, late: 0 };
      continue;
    }
    progress(`fixed rate ${rate}/s ${p.name}`);
    fixed[p.name] = await fixedRate(p.port, small, rate, SECONDS);
  }
  const idle: Record<Name, { before: number; rss: number; open: number }> = {} as never;
  for (const p of proxies) {
    if (!PHASES.has("idle")) {
      idle[p.name] = { before: rssTree(p.pid), rss: NaN, open: 0 };
      continue;
    }
    progress(`${IDLE} idle connections ${p.name}`);
    idle[p.name] = await rssWithIdle(p.pid, p.port, IDLE);
  }

  const m = (n: Name) => ({
    smallRps: median(samples[n].small.map((w) => w.rps)),
    postRps: median(samples[n].post.map((w) => w.rps)),
    smallP99: median(samples[n].small.map((w) => w.p99ms)),
    bigRps: median(samples[n].big.map((w) => w.rps)),
    bigMBps: median(samples[n].big.map((w) => w.mbps)),
    connectMBps: median(samples[n].connect.map((c) => c.mbps)),
    // efficiency: CPU the proxy used for the work it did (steadier than throughput on a busy host)
    smallCpuMsPer1k: median(samples[n].small.map((w) => (w.cpu * 1e6) / (w.rps * w.seconds))),
    postCpuMsPer1k: median(samples[n].post.map((w) => (w.cpu * 1e6) / (w.rps * w.seconds))),
    bigCpuSPerGB: median(samples[n].big.map((w) => w.cpu / ((w.mbps * w.seconds) / 1024))),
    connectCpuSPerGB: median(samples[n].connect.map((c) => c.cpuPerGB)),
    errors: [...samples[n].small, ...samples[n].post, ...samples[n].big].reduce(
      (a, w) => a + w.errors,
      0,
    ),
  });
  const S = m("squid");
  const O = m("ours");
  /** the median over rounds of ours / Squid's, each pair measured back to back */
  const paired = <T>(of: (x: Samples) => T[], f: (x: T) => number) => {
    const sq = of(samples.squid).map(f);
    const ou = of(samples.ours).map(f);
    return median(ou.map((o, i) => o / (sq[i] ?? NaN)));
  };
  const pairs = {
    smallRps: paired(
      (x) => x.small,
      (w) => w.rps,
    ),
    smallP99: paired(
      (x) => x.small,
      (w) => w.p99ms,
    ),
    bigRps: paired(
      (x) => x.big,
      (w) => w.rps,
    ),
    bigMBps: paired(
      (x) => x.big,
      (w) => w.mbps,
    ),
    connectMBps: paired(
      (x) => x.connect,
      (c) => c.mbps,
    ),
    smallCpu: paired(
      (x) => x.small,
      (w) => (w.cpu * 1e6) / (w.rps * w.seconds),
    ),
    postRps: paired(
      (x) => x.post,
      (w) => w.rps,
    ),
    postCpu: paired(
      (x) => x.post,
      (w) => (w.cpu * 1e6) / (w.rps * w.seconds),
    ),
    bigCpu: paired(
      (x) => x.big,
      (w) => w.cpu / ((w.mbps * w.seconds) / 1024),
    ),
    connectCpu: paired(
      (x) => x.connect,
      (c) => c.cpuPerGB,
    ),
  };
  const f1 = (x: number) => x.toFixed(1);
  const f0 = (x: number) => x.toFixed(0);
  const ratio = (o: number, s: number) => (Number.isNaN(o / s) ? "-" : `${(o / s).toFixed(2)}x`);
  const row = (
    label: string,
    sq: number,
    ou: number,
    fmt: (x: number) => string,
    bar = "",
    pair?: number,
  ) => [
    label,
    Number.isNaN(sq) ? "-" : fmt(sq),
    Number.isNaN(ou) ? "-" : fmt(ou),
    pair === undefined ? ratio(ou, sq) : ratio(pair, 1),
    bar,
  ];
  const rows: string[][] = [
    ["metric", "Squid 5", "egress-router", "ratio", "bar"],
    row("small bodies, requests/s", S.smallRps, O.smallRps, f0, ">= 2x", pairs.smallRps),
    row("POST, 1 KiB JSON body, requests/s", S.postRps, O.postRps, f0, "report", pairs.postRps),
    row("1 MB bodies, requests/s", S.bigRps, O.bigRps, f1, ">= 3x", pairs.bigRps),
    row("1 MB bodies, MB/s", S.bigMBps, O.bigMBps, f0, "", pairs.bigMBps),
    row(
      `CONNECT, MB/s (${TUNNELS} tunnels)`,
      S.connectMBps,
      O.connectMBps,
      f0,
      ">= 1.2x",
      pairs.connectMBps,
    ),
    row(
      "small: proxy CPU ms per 1000 requests",
      S.smallCpuMsPer1k,
      O.smallCpuMsPer1k,
      f1,
      "lower is better",
      pairs.smallCpu,
    ),
    row(
      "POST: proxy CPU ms per 1000 requests",
      S.postCpuMsPer1k,
      O.postCpuMsPer1k,
      f1,
      "lower is better",
      pairs.postCpu,
    ),
    row(
      "1 MB: proxy CPU s per GB",
      S.bigCpuSPerGB,
      O.bigCpuSPerGB,
      (x) => x.toFixed(2),
      "lower is better",
      pairs.bigCpu,
    ),
    row(
      "CONNECT: proxy CPU s per GB",
      S.connectCpuSPerGB,
      O.connectCpuSPerGB,
      (x) => x.toFixed(2),
      "lower is better",
      pairs.connectCpu,
    ),
    row(
      `p99 ms, small, ${CONNS} conns saturated`,
      S.smallP99,
      O.smallP99,
      f1,
      "<= 1x",
      pairs.smallP99,
    ),
    row(
      "small, TCP floor (no HTTP), requests/s",
      S.smallRps,
      median(floorSmall.map((w) => w.rps)),
      f0,
      "",
      median(floorSmall.map((w, i) => w.rps / (samples.squid.small[i]?.rps ?? NaN))),
    ),
    row(
      "small, TCP floor: CPU ms per 1000 requests",
      S.smallCpuMsPer1k,
      median(floorSmall.map((w) => (w.cpu * 1e6) / (w.rps * w.seconds))),
      f1,
      "",
    ),
    row(`p50 ms at ${rate}/s (fixed rate)`, fixed.squid.p50, fixed.ours.p50, f1),
    row(`p99 ms at ${rate}/s (fixed rate)`, fixed.squid.p99, fixed.ours.p99, f1, "<= 1x"),
    row("RSS idle at start, MiB", rssIdle.squid, rssIdle.ours, f1, "report"),
    row("RSS idle after the load, MiB", idle.squid.before, idle.ours.before, f1, "report"),
    row(`RSS with ${IDLE} idle conns, MiB`, idle.squid.rss, idle.ours.rss, f1, "report"),
    [`idle conns still open (of ${IDLE})`, String(idle.squid.open), String(idle.ours.open), "", ""],
    ["errors (non-2xx, read errors)", String(S.errors), String(O.errors), "", ""],
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  const out = [
    `HTTP proxy benchmark, ${new Date().toISOString().slice(0, 10)}, ${availableParallelism()} CPUs, medians of ${ROUNDS} rounds of ${SECONDS} s, ${CONNS} connections, workers ${args.workers}, log level ${args["log-level"]}, load average before ${loadBefore}, after ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`,
    "values: medians over the rounds; ratio: the median of the rounds' ratios (each pair measured back to back), or of the medians for the one-off measures",
    "",
    line(rows[0] ?? []),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.slice(1).map(line),
  ].join("\n");
  process.stdout.write(`${out}\n`);
  progress("done");
  if (args.json)
    writeFileSync(
      args.json,
      JSON.stringify(
        { samples, floorSmall, fixed, idle, rssIdle, rate, squid: S, ours: O },
        null,
        2,
      ),
    );
}

try {
  await main();
} finally {
  await cleanup();
}

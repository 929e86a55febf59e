// Helper processes for bench/dns-proxy.ts, each run in the benchmark's network namespace:
//   banner-server <port>            answers every connection with one byte, then holds it
//   hold <port> <count>             opens <count> connections, waits for each byte, holds them
//   probe <port> <rate> <seconds>   new connections at a fixed rate; time from connect()
//                                   to the first byte (accept, upstream connect, forward)
// They print one JSON line when done (or "ready" for hold) on stdout; probe's has every
// latency sample (ms), so rounds can be pooled.
import net from "node:net";

const [mode, portText, a, b] = process.argv.slice(2);
const port = Number(portText);

function bannerServer(): void {
  const server = net.createServer((s) => {
    s.on("error", () => undefined);
    s.resume();
    s.write("x");
  });
  server.listen({ port, host: "127.0.0.1", backlog: 4096 }, () => {
    process.stdout.write(`${JSON.stringify({ listening: port })}\n`);
  });
}

function hold(count: number): void {
  const sockets: net.Socket[] = [];
  let ready = 0;
  let failed = 0;
  let started = 0;
  const open = (): void => {
    if (started >= count) return;
    started += 1;
    const s = net.connect({ port, host: "127.0.0.1" });
    sockets.push(s);
    s.once("data", () => {
      ready += 1;
      open();
      if (ready + failed === count) {
        process.stdout.write(`${JSON.stringify({ ready, failed })}\n`);
      }
    });
    s.on("error", () => {
      failed += 1;
      open();
      if (ready + failed === count) process.stdout.write(`${JSON.stringify({ ready, failed })}\n`);
    });
  };
  for (let i = 0; i < 200; i++) open();
  process.on("SIGTERM", () => {
    for (const s of sockets) s.destroy();
    process.exit(0);
  });
}

function probe(rate: number, seconds: number): void {
  const latencies: number[] = [];
  let errors = 0;
  let pending = 0;
  const total = Math.round(rate * seconds);
  let launched = 0;
  const finish = (): void => {
    latencies.sort((x, y) => x - y);
    const q = (p: number): number =>
      latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
    const samples = latencies.map((x) => Math.round(x * 1000) / 1000);
    process.stdout.write(
      `${JSON.stringify({ n: latencies.length, errors, p50: q(0.5), p99: q(0.99), samples })}\n`,
    );
    process.exit(0);
  };
  const one = (): void => {
    const t0 = process.hrtime.bigint();
    pending += 1;
    const s = net.connect({ port, host: "127.0.0.1" });
    const done = (ok: boolean): void => {
      if (ok) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      else errors += 1;
      s.destroy();
      pending -= 1;
      if (launched === total && pending === 0) finish();
    };
    s.setTimeout(10_000, () => done(false));
    s.once("data", () => done(true));
    s.once("error", () => done(false));
  };
  const interval = 1000 / rate;
  const start = performance.now();
  const tick = (): void => {
    // Open-loop: launch what the schedule says is due, whatever is still pending.
    const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
    while (launched < due) {
      launched += 1;
      one();
    }
    if (launched < total) setTimeout(tick, Math.max(1, interval / 2));
  };
  tick();
}

if (mode === "banner-server") bannerServer();
else if (mode === "hold") hold(Number(a));
else if (mode === "probe") probe(Number(a), Number(b));
else {
  process.stderr.write("usage: tcp-peers.ts banner-server|hold|probe <port> [...]\n");
  process.exitCode = 2;
}

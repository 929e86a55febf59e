// bin/egress-router as the OpenShift egress-dns-proxy image and as `egress-router dns-proxy`:
// a real child process, real sockets, the daemon host around the service.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { mkdtempSync, rmSync, writeFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { describe, it } from "node:test";
import { startDnsmasq } from "./helpers/dnsmasq.ts";
import { binPath, runCli } from "./helpers/run-cli.ts";
import { waitWhileProgressing } from "./helpers/progress.ts";
import { connectTo } from "./helpers/tcp-peers.ts";
import { freeTcpPort, startBackend } from "./helpers/tcp-proxy-fixture.ts";

interface Router {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  exit(): Promise<number | null>;
  /**
   * Resolves once `check()` holds. No fixed deadline: it waits as long as the router makes
   * progress (CPU time, log lines), which on a busy machine can be many times the usual.
   */
  until(check: () => boolean | Promise<boolean>, what: string): Promise<void>;
  /** until "router ready" */
  ready(): Promise<void>;
}

function startRouter(t: TestContext, args: string[], env: Record<string, string>): Router {
  const child = spawn(binPath, args, {
    env: { EGRESS_ADMIN_PORT: "0", EGRESS_LOG_FORMAT: "json", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Record<string, unknown>[] = [];
  let buffered = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    buffered += d;
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = once(child, "exit").then(([code]) => code as number | null);
  t.after(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
    if (stderr) t.diagnostic(`router stderr: ${stderr}`);
  });
  const until = (check: () => boolean | Promise<boolean>, what: string): Promise<void> =>
    waitWhileProgressing(check, {
      what,
      pid: child.pid,
      activity: () => lines.length,
      exited: () => child.exitCode !== null || child.signalCode !== null,
    });
  return {
    child,
    lines,
    exit: () => exited,
    until,
    ready: () => until(() => lines.some((l) => l["msg"] === "router ready"), "ready"),
  };
}

async function roundTrip(t: TestContext, port: number, text: string): Promise<string> {
  const c = await connectTo(t, port);
  c.socket.end(text);
  return (await c.received).toString();
}

describe("egress-router as the DNS proxy image", () => {
  it("forwards, logs each connection with EGRESS_DNS_PROXY_DEBUG, and exits 0 on SIGTERM", async (t) => {
    const backend = await startBackend(t, "127.0.0.2");
    const port = await freeTcpPort();
    const router = startRouter(t, [], {
      EGRESS_DNS_PROXY_DESTINATION: `# the test backend\n${port} 127.0.0.2 ${backend.port}\n`,
      EGRESS_DNS_PROXY_DEBUG: "1",
      EGRESS_DNS_PROXY_THREADS: "2", // each forwarding thread writes its own lines
    });
    await router.ready();
    for (let i = 0; i < 6; i++) assert.equal(await roundTrip(t, port, "hello"), "hello");
    const closes = () => router.lines.filter((l) => l["event"] === "connection-close");
    await router.until(() => closes().length === 6, "a close line per connection");
    const close = closes()[0];
    assert.equal(close?.["level"], "info");
    assert.match(String(close?.["client"]), /^127\.0\.0\.1:\d+$/);
    assert.equal(close?.["destination"], `127.0.0.2:${backend.port}`);
    assert.equal(close?.["address"], "127.0.0.2");
    assert.equal(close?.["bytes_from_client"], 5);
    assert.equal(close?.["bytes_to_client"], 5);
    assert.equal(close?.["end"], "done");
    const opens = router.lines.filter((l) => l["event"] === "connection-open");
    assert.equal(opens.length, 6, "debug: open lines too");
    // an open line says where the connection is going and by which rule, as the close does
    assert.equal(opens[0]?.["destination"], `127.0.0.2:${backend.port}`);
    assert.equal(opens[0]?.["rule_line"], 2);
    router.child.kill("SIGTERM");
    assert.equal(await router.exit(), 0);
  });

  it("refuses bad settings: the first problem on stderr's last line, exit 1", async () => {
    const cases = [
      [
        "no rules",
        { EGRESS_DNS_PROXY_DESTINATION: "" },
        "Must specify EGRESS_DNS_PROXY_DESTINATION",
      ],
      [
        "a protocol keyword",
        { EGRESS_DNS_PROXY_DESTINATION: "80 tcp 203.0.113.7" },
        "Bad destination '80 tcp 203.0.113.7'",
      ],
      [
        "a port out of range",
        { EGRESS_DNS_PROXY_DESTINATION: "80 203.0.113.7 70000" },
        "Invalid port: 70000, must be in the range 1 to 65535",
      ],
      [
        "a bad idle timeout",
        {
          EGRESS_DNS_PROXY_DESTINATION: "80 203.0.113.7",
          EGRESS_DNS_PROXY_IDLE_TIMEOUT: "forever",
        },
        'EGRESS_DNS_PROXY_IDLE_TIMEOUT: Cannot use "forever": "forever" is not a duration or <port>=<duration>; write e.g. "1h" or "1h,5432=8h,6379=0" (0: never)',
      ],
    ] as const;
    // Started together: each is a process start.
    const results = await Promise.all(
      cases.map(([, env]) => runCli([], { ...env, EGRESS_ADMIN_PORT: "0" })),
    );
    for (const [i, [name, , last]] of cases.entries()) {
      assert.equal(results[i]?.code, 1, name);
      assert.equal(results[i]?.stderr.trimEnd().split("\n").at(-1), last, name);
    }
  });
});

describe("egress-router as the DNS proxy image: observability", () => {
  it("without EGRESS_DNS_PROXY_DEBUG: no line per connection; /metrics counts each exactly once", async (t) => {
    const backend = await startBackend(t, "127.0.0.2");
    const [port, admin] = [await freeTcpPort(), await freeTcpPort()];
    const router = startRouter(t, [], {
      EGRESS_DNS_PROXY_DESTINATION: `${port} 127.0.0.2 ${backend.port}`,
      EGRESS_DNS_PROXY_THREADS: "2",
      EGRESS_ADMIN_PORT: String(admin),
    });
    await router.ready();
    const texts = Array.from({ length: 30 }, (_, i) => `hello ${i}`);
    for (const x of texts) assert.equal(await roundTrip(t, port, x), x);
    const bytes = texts.reduce((n, x) => n + x.length, 0);
    const series = (body: string, name: string): number =>
      Number(
        body
          .split("\n")
          .find((l) => l.startsWith(`${name} `))
          ?.split(" ")[1] ?? NaN,
      );
    const l = `mode="dns-proxy",listener="${port}"`;
    let body = "";
    await router.until(async () => {
      body = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
      return series(body, `egress_router_connections_closed_total{${l},end="done"}`) === 30;
    }, "every close counted");
    assert.equal(series(body, `egress_router_connections_opened_total{${l}}`), 30);
    assert.equal(series(body, `egress_router_connections_closed_total{${l},end="done"}`), 30);
    assert.equal(series(body, `egress_router_connections_active{${l}}`), 0);
    assert.equal(
      series(
        body,
        `egress_router_transferred_bytes_total{mode="dns-proxy",direction="from-client"}`,
      ),
      bytes,
    );
    // The status page's counters come from the threads once a second.
    const hits = async (): Promise<number | undefined> => {
      const status = (await (await fetch(`http://127.0.0.1:${admin}/status.json`)).json()) as {
        service: { rules: { hits: number }[] };
      };
      return status.service.rules[0]?.hits;
    };
    await router.until(async () => (await hits()) === 30, "hits on the status page");
    assert.equal(await hits(), 30);
    router.child.kill("SIGTERM");
    assert.equal(await router.exit(), 0);
    const perConnection = router.lines.filter((x) =>
      ["connection-open", "connection-close"].includes(String(x["event"])),
    );
    assert.deepEqual(perConnection, []);
  });

  it("a log reader that stops reading does not stop forwarding; the lines come once it reads again", async (t) => {
    // The container runtime reads stdout through a pipe. When it stalls, every write to a
    // full pipe would block the thread that writes: the lines must wait (or be dropped past
    // the backlog bound), never the connections.
    const backend = await startBackend(t, "127.0.0.2");
    const port = await freeTcpPort();
    const child = spawn(binPath, [], {
      env: {
        EGRESS_ADMIN_PORT: "0",
        EGRESS_LOG_FORMAT: "json",
        EGRESS_DNS_PROXY_DEBUG: "1",
        EGRESS_DNS_PROXY_DESTINATION: `${port} 127.0.0.2 ${backend.port}\n`,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    t.after(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    const out = child.stdout;
    assert.ok(out);
    // Not read: node fills its buffer (highWaterMark) and stops, then the pipe fills.
    out.pause();
    // A writer blocked on the pipe would hold the connections: fail instead of hanging.
    const withDeadline = async (p: Promise<string>, i: number): Promise<string> => {
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`connection ${i} got no answer in 30 s while stdout was not read`));
        }, 30_000);
      });
      try {
        return await Promise.race([p, stuck]);
      } finally {
        clearTimeout(timer);
      }
    };
    const connections = 600;
    let lineBytes = 0;
    let forwarding = false;
    for (let i = 0; i < connections; i++) {
      // until the port is up (the first attempts may come before it listens)
      let answer = "";
      for (let attempt = 0; answer === "" && attempt < 600; attempt++) {
        answer = await withDeadline(roundTrip(t, port, `hello ${i}`), i).catch(
          async (err: unknown) => {
            if (forwarding) throw err; // only the first one may come before the port opens
            await new Promise((r) => setTimeout(r, 50));
            return "";
          },
        );
      }
      assert.equal(answer, `hello ${i}`, `connection ${i} was forwarded`);
      forwarding = true;
    }
    // Two lines per connection, over 300 bytes each: far more than the pipe and node's
    // buffer hold, so the router met a full pipe while it kept forwarding.
    let text = "";
    out.setEncoding("utf8").on("data", (d: string) => {
      text += d;
      lineBytes += Buffer.byteLength(d);
    });
    out.resume();
    await waitWhileProgressing(
      () => (text.match(/"msg":"connection closed"/g) ?? []).length >= connections,
      { what: "every connection's lines", pid: child.pid, activity: () => lineBytes },
    );
    assert.ok(lineBytes > 4 * 65_536, `${lineBytes} bytes of lines`);
    child.kill("SIGTERM");
    assert.equal((await once(child, "exit"))[0], 0);
  });

  it("bad rules are reported as OpenShift does even when the admin port is taken", async (t) => {
    const taken = net.createServer().listen(0, "127.0.0.1");
    await once(taken, "listening");
    t.after(() => taken.close());
    const busy = (taken.address() as net.AddressInfo).port;
    const r = await runCli([], {
      EGRESS_DNS_PROXY_DESTINATION: "80 tcp 203.0.113.7",
      EGRESS_ADMIN_ADDRESS: "127.0.0.1",
      EGRESS_ADMIN_PORT: String(busy),
    });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trimEnd().split("\n").at(-1), "Bad destination '80 tcp 203.0.113.7'");
    assert.doesNotMatch(r.stderr, /EGRESS_ADMIN_PORT/);
  });
});

describe("egress-router dns-proxy", () => {
  it("a rule on the admin server's port is refused by check and at start, naming both settings", async () => {
    // OpenShift's image had no admin server: a rule for 9090 worked there.
    const fix =
      "EGRESS_DNS_PROXY_DESTINATION line 2: Cannot listen on port 9090: the admin server (metrics, health) listens there (EGRESS_ADMIN_PORT=9090); set EGRESS_ADMIN_PORT to another port (0 turns it off), or use another local port";
    const env = { EGRESS_DNS_PROXY_DESTINATION: "5432 203.0.113.7\n9090 203.0.113.8" };
    const [checked, started, moved, apart] = await Promise.all([
      runCli(["check"], env),
      runCli(["dns-proxy"], env),
      runCli(["check"], { ...env, EGRESS_ADMIN_PORT: "9191" }),
      runCli(["check"], {
        ...env,
        EGRESS_ADMIN_ADDRESS: "127.0.0.1",
        EGRESS_DNS_PROXY_ADDRESS: "198.51.100.1",
      }),
    ]);
    assert.equal(checked.code, 1, checked.stdout);
    assert.equal(checked.stderr.trimEnd().split("\n")[0], fix);
    assert.equal(started.code, 1, started.stdout);
    assert.match(started.stderr, new RegExp(fix.replace(/[()=.]/g, "\\$&")));
    // another admin port, or addresses that do not overlap: nothing to say
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(apart.code, 0, apart.stderr);
  });

  it("check warns of a per-port idle timeout for a port no rule listens on", async () => {
    const r = await runCli(["check", "--dns-proxy-idle-timeout", "1h,5423=8h,5432=0"], {
      EGRESS_DNS_PROXY_DESTINATION: "5432 db.example.com",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.stdout.split("\n").filter((l) => l.startsWith("# warning")),
      [
        "# warning: EGRESS_DNS_PROXY_IDLE_TIMEOUT sets a timeout for port 5423, which no EGRESS_DNS_PROXY_DESTINATION line listens on; it has no effect (a typo?)",
      ],
    );
  });

  it("the running proxy says so too: config applied at warn, with the unused port", async (t) => {
    const backend = await startBackend(t, "127.0.0.2");
    const port = await freeTcpPort();
    const unused = port === 65535 ? port - 1 : port + 1;
    const router = startRouter(t, ["dns-proxy"], {
      EGRESS_DNS_PROXY_DESTINATION: `${port} 127.0.0.2 ${backend.port}\n`,
      EGRESS_DNS_PROXY_ADDRESS: "127.0.0.1",
      EGRESS_DNS_PROXY_IDLE_TIMEOUT: `1h,${unused}=8h,${port}=2h`,
    });
    await router.ready();
    const applied = router.lines.find((l) => l["msg"] === "config applied");
    assert.equal(applied?.["level"], "warn");
    assert.deepEqual(applied?.["problems"], [
      `EGRESS_DNS_PROXY_IDLE_TIMEOUT sets a timeout for port ${unused}, which no EGRESS_DNS_PROXY_DESTINATION line listens on; it has no effect (a typo?)`,
    ]);
    assert.equal(await roundTrip(t, port, "still serves"), "still serves");
    router.child.kill("SIGTERM");
    assert.equal(await router.exit(), 0);
  });

  it("reloads the rules file: a new port opens, the old one keeps serving", async (t) => {
    const backend = await startBackend(t, "127.0.0.2");
    const [p1, p2] = [await freeTcpPort(), await freeTcpPort()];
    const dir = mkdtempSync(join(tmpdir(), "egress-dns-proxy-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "rules");
    writeFileSync(file, `${p1} 127.0.0.2 ${backend.port}\n`);
    const router = startRouter(t, ["dns-proxy", "--dns-proxy-destination-file", file], {});
    await router.ready();
    assert.equal(await roundTrip(t, p1, "one"), "one");
    // Replace the file the way a ConfigMap update does: a new file renamed over it.
    writeFileSync(
      `${file}.new`,
      `${p1} 127.0.0.2 ${backend.port}\n${p2} 127.0.0.2 ${backend.port}\n`,
    );
    renameSync(`${file}.new`, file);
    await router.until(
      () => router.lines.some((l) => l["msg"] === "config applied" && l["trigger"] !== "start"),
      "reload",
    );
    assert.equal(await roundTrip(t, p2, "two"), "two");
    assert.equal(await roundTrip(t, p1, "still one"), "still one");
    // A bad file is rejected; the running rules stay.
    writeFileSync(`${file}.new`, `${p1} tcp 127.0.0.2\n`);
    renameSync(`${file}.new`, file);
    await router.until(
      () => router.lines.some((l) => l["msg"] === "config reload rejected"),
      "rejection",
    );
    assert.equal(await roundTrip(t, p2, "kept"), "kept");
    router.child.kill("SIGTERM");
    assert.equal(await router.exit(), 0);
  });

  it("explain --resolve says what a port's name resolves to now, asking the proxy's servers", async (t) => {
    const dns = await startDnsmasq(t, { "db.test.example": ["192.0.2.7", "192.0.2.8"] });
    const rules = "5432 db.test.example\n6379 cache.test.example";
    const env = { EGRESS_DNS_PROXY_DESTINATION: rules, EGRESS_DNS_PROXY_NAMESERVERS: dns.server };
    const [found, missing] = await Promise.all([
      runCli(["explain", "5432", "--resolve"], env),
      runCli(["explain", "6379", "--resolve"], env),
    ]);
    assert.equal(found.code, 0, found.stderr);
    assert.equal(
      found.stdout.split("\n")[1],
      `dns-proxy: db.test.example resolves now to 192.0.2.7, 192.0.2.8 (TTL 1 s; prefer-ipv4; asked ${dns.server}); new connections use each in turn`,
    );
    assert.equal(
      missing.stdout.split("\n")[1],
      `dns-proxy: cache.test.example does not resolve now: cache.test.example: no such name (NXDOMAIN) (asked ${dns.server}); a running proxy keeps its last good answer for a while and retries`,
    );
  });

  it("has real --help", async () => {
    const r = await runCli(["dns-proxy", "--help"]);
    assert.equal(r.code, 0);
    for (const flag of [
      "--dns-proxy-destination-file <path>",
      "--dns-proxy-idle-timeout <value>",
      "--dns-proxy-max-connections <value>",
      "--dns-proxy-nameservers <value>",
    ]) {
      assert.ok(r.stdout.includes(flag), flag);
    }
  });
});

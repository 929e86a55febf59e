// The HTTP proxy as the image runs it: bin/egress-router in a child process, configured by
// variables only (OpenShift mode) or by the http-proxy command, with several workers. Logs
// come from every worker, SIGTERM drains, SIGHUP reloads, bad settings stop the start.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { startDnsmasq } from "../helpers/dns.ts";
import { rawExchange, startOrigin, statusOf } from "../helpers/http-proxy.ts";
import { freePort, waitFor as waitForShort } from "../helpers/net.ts";
import { startProxyProcess } from "../helpers/proxy-process.ts";
import { runCli } from "../helpers/run-cli.ts";
import { startServer } from "../helpers/tcp-peers.ts";

/** Child processes on a loaded machine: generous, never a speed assertion. */
const waitFor = <T>(what: string, check: () => T | undefined | Promise<T | undefined>) =>
  waitForShort(what, check, 30_000);

const get = (port: number, path = "/") =>
  `GET http://127.0.0.1:${port}${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;

describe("the proxy process", () => {
  it("OpenShift mode, variables only, two workers: serves, logs every decision, exits 0 on SIGTERM", async (t) => {
    const origin = await startOrigin(t);
    const p = await startProxyProcess(t, {
      EGRESS_HTTP_PROXY_DESTINATION: "!127.0.0.2\n127.0.0.0/8",
      EGRESS_HTTP_PROXY_WORKERS: "2",
    });
    await p.ready();
    for (let i = 0; i < 6; i++) {
      assert.equal(statusOf((await rawExchange(p.port, get(origin.port, `/${i}`))).text), 200);
    }
    assert.equal(
      statusOf(
        (await rawExchange(p.port, get(origin.port).replace("127.0.0.1", "127.0.0.2"))).text,
      ),
      403,
    );
    const decided = await waitFor("seven decision lines", () => {
      const d = p.logs.filter((l) => l.msg === "connection decided");
      return d.length >= 7 ? d : undefined;
    });
    assert.equal(decided.filter((l) => l["action"] === "deny").length, 1);
    const status = (await (await fetch(`http://127.0.0.1:${p.adminPort}/status.json`)).json()) as {
      service: { workers: number; workersListening: number };
    };
    assert.deepEqual([status.service.workers, status.service.workersListening], [2, 2]);
    // The metrics count each decision once, whichever thread made it; the status page lists
    // the denial a thread saw.
    const metrics = await (await fetch(`http://127.0.0.1:${p.adminPort}/metrics`)).text();
    assert.match(
      metrics,
      /^egress_router_decisions_total\{mode="http-proxy",action="allow",reason="range-matched",audit="false"\} 6$/m,
    );
    assert.match(
      metrics,
      /^egress_router_decisions_total\{mode="http-proxy",action="deny",reason="address-matched",audit="false"\} 1$/m,
    );
    assert.match(metrics, /^egress_router_ready 1$/m);
    const denial = await waitFor("the denial on the status page", async () => {
      const s = (await (await fetch(`http://127.0.0.1:${p.adminPort}/status.json`)).json()) as {
        activity: { denials: { destination: string }[] };
      };
      return s.activity.denials[0];
    });
    assert.equal(denial.destination, `127.0.0.2:${origin.port}`);
    p.child.kill("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
  });

  it("SIGTERM lets a request in flight finish, and closes a tunnel when the drain time is up", async (t) => {
    const slow = await startOrigin(t, (_req, res) =>
      setTimeout(() => res.end("late but whole"), 400),
    );
    const echo = await startServer(t, (s) => s.on("data", (d: Buffer) => s.write(d)));
    const p = await startProxyProcess(t, {
      EGRESS_HTTP_PROXY_DESTINATION: "127.0.0.0/8",
      EGRESS_HTTP_PROXY_WORKERS: "1",
      EGRESS_DRAIN_SECONDS: "1.5",
    });
    await p.ready();
    const tunnel = net.connect({ port: p.port, host: "127.0.0.1" });
    t.after(() => tunnel.destroy());
    await once(tunnel, "connect");
    tunnel.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await once(tunnel, "data");
    const inFlight = rawExchange(p.port, get(slow.port), { waitMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    p.child.kill("SIGTERM");
    const r = await inFlight;
    assert.equal(statusOf(r.text), 200);
    assert.ok(r.text.endsWith("late but whole"));
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port: p.port, host: "127.0.0.1" });
      s.on("connect", () => resolve(false));
      s.on("error", () => resolve(true));
    });
    assert.ok(refused, "no new connections while draining");
    await once(tunnel, "close");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    const closed = p.logs.find((l) => l.msg === "connection closed" && l["end"] === "drain");
    assert.ok(closed, "the tunnel was closed by the end of the drain");
  });

  it("SIGHUP reloads the rules file in every worker; a bad file is rejected and the old rules keep serving", async (t) => {
    const origin = await startOrigin(t);
    const dir = mkdtempSync(join(tmpdir(), "egress-router-rules-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "rules");
    writeFileSync(file, "127.0.0.0/8\n");
    const p = await startProxyProcess(t, {
      EGRESS_HTTP_PROXY_DESTINATION_FILE: file,
      EGRESS_HTTP_PROXY_WORKERS: "2",
    });
    await p.ready();
    assert.equal(statusOf((await rawExchange(p.port, get(origin.port))).text), 200);
    // Replaced whole (write, then rename) as a ConfigMap update does: the proxy also watches
    // the directory, and a file rewritten in place can be read half-written.
    const replace = (text: string): void => {
      writeFileSync(`${file}.new`, text);
      renameSync(`${file}.new`, file);
    };
    replace("!127.0.0.1\n127.0.0.0/8\n");
    p.child.kill("SIGHUP");
    await waitFor(
      "the reload",
      () => p.logs.filter((l) => l.msg === "config applied").length >= 2 || undefined,
    );
    for (let i = 0; i < 12; i++) {
      // new connections, spread by the kernel over both workers
      const r = await rawExchange(p.port, get(origin.port));
      assert.equal(statusOf(r.text), 403, r.text);
    }
    replace("foo bar\n");
    p.child.kill("SIGHUP");
    const rejected = await waitFor("the rejection", () =>
      p.logs.find((l) => l.msg === "config reload rejected"),
    );
    assert.match(
      String((rejected["problems"] as string[])[0]),
      /^EGRESS_HTTP_PROXY_DESTINATION line 1: Cannot use "foo bar": one destination per line/,
    );
    assert.equal(
      statusOf((await rawExchange(p.port, get(origin.port))).text),
      403,
      "old rules serve",
    );
  });

  it("the workers are threads of the one process: killing it leaves nothing serving the port", async (t) => {
    const origin = await startOrigin(t);
    const p = await startProxyProcess(t, {
      EGRESS_HTTP_PROXY_DESTINATION: "127.0.0.0/8",
      EGRESS_HTTP_PROXY_WORKERS: "2",
    });
    await p.ready();
    const pid = p.child.pid ?? 0;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    assert.equal(children, "", "no child processes");
    const status = (await (await fetch(`http://127.0.0.1:${p.adminPort}/status.json`)).json()) as {
      service: { workersListening: number };
    };
    assert.equal(status.service.workersListening, 2);
    // both threads serve: every one of many new connections is answered
    for (let i = 0; i < 8; i++) {
      assert.equal(statusOf((await rawExchange(p.port, get(origin.port))).text), 200);
    }
    p.child.kill("SIGKILL");
    await p.exited;
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port: p.port, host: "127.0.0.1" });
      s.on("connect", () => {
        s.destroy();
        resolve(false);
      });
      s.on("error", () => resolve(true));
    });
    assert.ok(refused, "nothing listens on the port once the process is gone");
  });

  it("audit mode from its variable: allowed, logged with audit true", async (t) => {
    const origin = await startOrigin(t);
    const p = await startProxyProcess(t, {
      EGRESS_HTTP_PROXY_DESTINATION: "!127.0.0.1\n127.0.0.0/8",
      EGRESS_HTTP_PROXY_AUDIT: "true",
      EGRESS_HTTP_PROXY_WORKERS: "1",
    });
    await p.ready();
    assert.equal(statusOf((await rawExchange(p.port, get(origin.port))).text), 200);
    const line = await waitFor("the decision line", () =>
      p.logs.find((l) => l.msg === "connection decided"),
    );
    assert.equal(line["audit"], true);
    assert.equal(line["reason"], "address-matched");
  });

  it("a connection closed after a refusal says which status the client got, and not what it sent", async (t) => {
    const origin = await startOrigin(t);
    const p = await startProxyProcess(t, {
      EGRESS_HTTP_PROXY_DESTINATION: "127.0.0.0/8",
      EGRESS_HTTP_PROXY_WORKERS: "2",
    });
    await p.ready();
    const asks = [
      [`GET http://127.0.0.1:${origin.port}/?token=s3cret HTTP/1.1\r\nHost: x\r\n\r\n`, 200],
      [`GET http://u:s3cret@127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
      ["GET http://203.0.113.7/?token=s3cret HTTP/1.1\r\nHost: x\r\n\r\n", 403],
      ["GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n\r\n", 502],
    ] as const;
    for (const [request, status] of asks) {
      assert.equal(statusOf((await rawExchange(p.port, request)).text), status);
    }
    const closed = await waitFor("four close lines", () => {
      const c = p.logs.filter((l) => l.msg === "connection closed");
      return c.length >= asks.length ? c : undefined;
    });
    assert.deepEqual(closed.map((l) => [l["end"], l["status"]]).sort(), [
      ["connect-failed", 502],
      ["denied", 403],
      ["done", undefined],
      ["error", 400],
    ]);
    assert.doesNotMatch(JSON.stringify(p.logs), /s3cret/);
  });
});

describe("the proxy process refuses to start on bad settings", () => {
  it("every bad setting is named, with the fix", async () => {
    const r = await runCli(["http-proxy"], {
      EGRESS_HTTP_PROXY_DESTINATION: "*",
      EGRESS_HTTP_PROXY_CONNECT_PORTS: "443,https",
      EGRESS_HTTP_PROXY_WORKERS: "0",
      EGRESS_HTTP_PROXY_IDLE_TIMEOUT: "0",
      EGRESS_HTTP_PROXY_DNS_SERVERS: "dns.example",
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /EGRESS_HTTP_PROXY_CONNECT_PORTS: Cannot use "443,https": "https" is not a port/,
    );
    assert.match(
      r.stderr,
      /EGRESS_HTTP_PROXY_WORKERS: Cannot use "0": not a whole number from 1 to 256, or "auto"/,
    );
    assert.match(
      r.stderr,
      /EGRESS_HTTP_PROXY_IDLE_TIMEOUT: Cannot use "0": a timeout of 0 would fail every request/,
    );
    assert.match(
      r.stderr,
      /EGRESS_HTTP_PROXY_DNS_SERVERS: Cannot use "dns.example": "dns.example" is not a DNS server address/,
    );
  });

  it("bad rules in OpenShift mode: the original message, exit 1", async () => {
    const r = await runCli([], { EGRESS_HTTP_PROXY_DESTINATION: "www.example.com\nfoo bar" });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "Bad destination 'foo bar'\n");
    const empty = await runCli([], { EGRESS_HTTP_PROXY_DESTINATION: "" });
    assert.equal(empty.stderr, "No EGRESS_HTTP_PROXY_DESTINATION specified\n");
  });

  it("a port in use is named", async (t) => {
    const busy = await startServer(t, () => undefined);
    const admin = await freePort();
    const r = await runCli(
      [
        "http-proxy",
        "--http-proxy-port",
        String(busy.port),
        "--http-proxy-address",
        "127.0.0.1",
        "--http-proxy-workers",
        "2",
      ],
      {
        EGRESS_HTTP_PROXY_DESTINATION: "*",
        EGRESS_ADMIN_PORT: String(admin),
      },
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `EGRESS_HTTP_PROXY_PORT: Cannot listen on 127\\.0\\.0\\.1 port ${busy.port}: the port is in use`,
      ),
    );
  });

  it("a port another program listens on with SO_REUSEPORT is named, not shared", async (t) => {
    // Same user, both sockets with SO_REUSEPORT: the kernel would let the workers join the
    // other program's group, and the two would split the port's connections between them.
    const other = net.createServer((s) => s.end());
    other.listen({ port: 0, host: "127.0.0.1", reusePort: true });
    await once(other, "listening");
    t.after(() => other.close());
    const { port } = other.address() as net.AddressInfo;
    const r = await runCli(
      ["http-proxy", "--http-proxy-port", String(port), "--http-proxy-address", "127.0.0.1"],
      {
        EGRESS_HTTP_PROXY_DESTINATION: "*",
        EGRESS_HTTP_PROXY_WORKERS: "2",
        EGRESS_ADMIN_PORT: String(await freePort()),
      },
      { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stderr,
      new RegExp(
        `EGRESS_HTTP_PROXY_PORT: Cannot listen on 127\\.0\\.0\\.1 port ${port}: the port is in use`,
      ),
    );
  });
});

describe("the command line", () => {
  it("http-proxy --help explains the rules, the answers and every option", async () => {
    const r = await runCli(["http-proxy", "--help"]);
    assert.equal(r.code, 0);
    for (const expected of [
      "Usage: egress-router http-proxy",
      "*.example.com",
      "403",
      "--http-proxy-connect-ports",
      "--http-proxy-audit",
      "--http-proxy-destination-file",
    ]) {
      assert.ok(r.stdout.includes(expected), expected);
    }
  });

  it("explain: literal forms, names resolved through the configured DNS server, the port list", async (t) => {
    const dns = await startDnsmasq(t, {
      "api.proxy.test": ["203.0.113.5"],
      "db.proxy.test": ["10.1.2.3"],
    });
    const env = {
      EGRESS_HTTP_PROXY_DESTINATION: "!*.secret.proxy.test\n!10.0.0.0/8\n*.proxy.test\n*",
      EGRESS_HTTP_PROXY_DNS_SERVERS: dns.server,
      EGRESS_HTTP_PROXY_CONNECT_PORTS: "443",
    };
    const ask = async (q: string) => (await runCli(["explain", q], env)).stdout;
    assert.equal(
      await ask("api.proxy.test"),
      'http-proxy: api.proxy.test is allowed: domain-matched: rule line 3 "*.proxy.test"\nhttp-proxy: api.proxy.test resolves to 203.0.113.5\n',
    );
    assert.equal(
      await ask("db.proxy.test:443"),
      'http-proxy: db.proxy.test:443 is denied: resolved-range-matched: resolves to 10.1.2.3, rule line 2 "!10.0.0.0/8"\nhttp-proxy: db.proxy.test resolves to 10.1.2.3\n',
    );
    assert.equal(
      await ask("x.secret.proxy.test"),
      'http-proxy: x.secret.proxy.test is denied: domain-matched: rule line 1 "!*.secret.proxy.test" (the name is not even looked up)\n',
    );
    assert.equal(
      await ask("0xa.1.2.3:22"),
      'http-proxy: "0xa.1.2.3" is read as 10.1.2.3\nhttp-proxy: 10.1.2.3:22 is denied: port-not-allowed: CONNECT to this port is not in EGRESS_HTTP_PROXY_CONNECT_PORTS\n',
    );
  });
});

// End to end in the network-namespace lab, as OpenShift runs the HTTP proxy pod: the router
// image in http-proxy mode sets up the network (init container), then the proxy runs with
// nothing but its variables. A client pod uses it with real curl, for plain HTTP (-x) and
// for HTTPS through CONNECT (-x, and the https_proxy variable), through every rule form,
// allowing and denying; the external server sees the reserved source address, and its
// firewall (which admits only that address) rejects nothing.
//
// Two proxies run side by side, because a final "*" changes what every other rule means:
// one with allow rules and the default deny, one with deny rules before a final "*".
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { createLab, type Lab } from "../../src/lab/lab.ts";
import { testCertificate } from "../helpers/http-proxy.ts";
import { privileged } from "../helpers/privileged.ts";
import { binPath } from "../helpers/run-cli.ts";

const ALLOWING = [
  "203.0.113.25", // an address
  "203.0.113.26/32", // a range
  "www.example.com", // a host name
  "*.example.com", // a domain, and the domain itself
].join("\n"); // no final "*": whatever no rule allows is denied
const DENYING = [
  "!192.0.2.0/24", // a range (the cluster network, and names that resolve into it)
  "!203.0.113.25", // an address (and names that resolve to it)
  "!*.denied.example.org", // a domain
  "!db.example.com", // a host name
  "*", // everything else
].join("\n");
const TLS_PORT = 9443;

interface Case {
  readonly proxy: "allowing" | "denying";
  readonly host: string;
  readonly what: string;
  /** the reason and rule line of the answer; allowed cases check the source address */
  readonly denied?: RegExp;
}

const cases: readonly Case[] = [
  { proxy: "allowing", host: "203.0.113.25", what: "an address rule" },
  { proxy: "allowing", host: "203.0.113.26", what: "a range rule" },
  { proxy: "allowing", host: "www.example.com", what: "a host name rule" },
  { proxy: "allowing", host: "api.example.com", what: "a *.domain rule (sub-domain)" },
  { proxy: "allowing", host: "example.com", what: "a *.domain rule (the domain itself)" },
  {
    proxy: "allowing",
    host: "203.0.113.27",
    what: "no rule, no final * (an address)",
    denied: /no-rule-matched: no rule allows 203\.0\.113\.27/,
  },
  {
    proxy: "allowing",
    host: "other.example.net",
    what: "no rule, no final * (a name)",
    denied: /no-rule-matched: /,
  },
  { proxy: "denying", host: "203.0.113.26", what: "the final * (an address)" },
  { proxy: "denying", host: "www.example.com", what: "the final * (a name)" },
  {
    proxy: "denying",
    host: "192.0.2.10",
    what: "a range deny (an address)",
    denied: /range-matched: rule line 1/,
  },
  {
    proxy: "denying",
    host: "internal.example.com",
    what: "a range deny (a name resolving into it)",
    denied: /resolved-range-matched: resolves to 192\.0\.2\.10, rule line 1/,
  },
  {
    proxy: "denying",
    host: "203.0.113.25",
    what: "an address deny (an address)",
    denied: /address-matched: rule line 2/,
  },
  {
    proxy: "denying",
    host: "legacy.example.net",
    what: "an address deny (a name resolving to it)",
    denied: /resolved-address-matched: resolves to 203\.0\.113\.25, rule line 2/,
  },
  {
    proxy: "denying",
    host: "x.denied.example.org",
    what: "a *.domain deny",
    denied: /domain-matched: rule line 3/,
  },
  {
    proxy: "denying",
    host: "db.example.com",
    what: "a host name deny",
    denied: /host-matched: rule line 4/,
  },
];

describe("HTTP proxy in the lab", privileged(), () => {
  let lab: Lab;
  const proxies: ChildProcess[] = [];
  const logs = { allowing: "", denying: "" };
  const cert = testCertificate([
    "www.example.com",
    "api.example.com",
    "example.com",
    "203.0.113.25",
    "203.0.113.26",
  ]);

  before(async () => {
    lab = await createLab({
      records: [
        { name: "www.example.com", addresses: ["203.0.113.27"] },
        { name: "api.example.com", addresses: ["203.0.113.27"] },
        { name: "example.com", addresses: ["203.0.113.27"] },
        { name: "other.example.net", addresses: ["203.0.113.27"] },
        { name: "legacy.example.net", addresses: ["203.0.113.25"] },
        { name: "internal.example.com", addresses: ["192.0.2.10"] },
        { name: "x.denied.example.org", addresses: ["203.0.113.27"] },
        { name: "db.example.com", addresses: ["203.0.113.26"] },
      ],
    });
    // The OpenShift pod's init container: EGRESS_ROUTER_MODE=http-proxy sets up the network only.
    await lab.exec("router", [
      "env",
      "-i",
      "EGRESS_ROUTER_MODE=http-proxy",
      `EGRESS_SOURCE=${lab.v4.source}`,
      `EGRESS_GATEWAY=${lab.v4.gateway}`,
      binPath,
    ]);
    // An HTTPS server on the external addresses: it answers with the address it was reached from.
    const tls = `const https = require("node:https"); const fs = require("node:fs");
      https.createServer({ key: fs.readFileSync(${JSON.stringify(cert.keyPath)}), cert: fs.readFileSync(${JSON.stringify(cert.certPath)}) },
        (req, res) => res.end(JSON.stringify({ peer: req.socket.remoteAddress.replace(/^::ffff:/, ""), host: req.headers.host }))
      ).listen(${TLS_PORT}, "::", () => console.log("ready"));`;
    const server = lab.spawn("external", [process.execPath, "-e", tls]);
    await once(server.stdout as NodeJS.ReadableStream, "data");
    // The proxy containers: only their variables, as the OpenShift image got them.
    const start = (
      name: Case["proxy"],
      rules: string,
      port: number,
      admin: number,
      more: string[],
    ) => {
      const p = lab.spawn("router", [
        "env",
        "-i",
        `EGRESS_HTTP_PROXY_DESTINATION=${rules}`,
        `EGRESS_HTTP_PROXY_PORT=${port}`,
        `EGRESS_ADMIN_PORT=${admin}`,
        "EGRESS_LOG_FORMAT=json",
        ...more,
        binPath,
      ]);
      p.stdout?.setEncoding("utf8").on("data", (d: string) => (logs[name] += d));
      p.stderr?.setEncoding("utf8").on("data", (d: string) => (logs[name] += d));
      proxies.push(p);
    };
    start("allowing", ALLOWING, 8080, 9090, ["EGRESS_HTTP_PROXY_WORKERS=2"]);
    start("denying", DENYING, 8081, 9091, [`EGRESS_HTTP_PROXY_CONNECT_PORTS=80,${TLS_PORT}`]);
    const deadline = Date.now() + 30_000;
    for (const admin of [9090, 9091]) {
      for (;;) {
        const r = await lab.exec(
          "router",
          [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            `http://127.0.0.1:${admin}/readyz`,
          ],
          { okCodes: [0, 7] },
        );
        if (r.stdout === "200") break;
        if (Date.now() > deadline)
          throw new Error(`the proxies did not get ready: ${logs.allowing} ${logs.denying}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await lab.resetFirewall();
  });

  after(async () => {
    for (const p of proxies) p.kill("SIGTERM");
    await lab?.down();
  });

  const proxyUrl = (c: Pick<Case, "proxy">) =>
    `http://${lab.v4.routerCluster}:${c.proxy === "allowing" ? 8080 : 8081}`;
  const curl = (args: string[], env: string[] = []) =>
    lab.exec("client", ["env", "-i", ...env, "curl", "-sS", "-m", "10", ...args], {
      okCodes: [0, 22, 35, 56],
    });

  for (const c of cases) {
    const verdict = c.denied ? "denied" : "allowed";
    it(`HTTP (curl -x): ${c.host} ${verdict} by ${c.what}`, async () => {
      const r = await curl(["-w", "\n%{http_code}", "-x", proxyUrl(c), `http://${c.host}/`]);
      const lines = r.stdout.trimEnd().split("\n");
      const status = Number(lines.pop());
      const body = lines.join("\n");
      if (c.denied) {
        assert.equal(status, 403, body);
        assert.match(body, c.denied);
      } else {
        assert.equal(status, 200, body);
        assert.equal((JSON.parse(body) as { peer: string }).peer, lab.v4.source);
      }
    });

    it(`HTTPS (CONNECT, curl -x): ${c.host} ${verdict} by ${c.what}`, async () => {
      const r = await curl([
        "--cacert",
        cert.certPath,
        "-x",
        proxyUrl(c),
        `https://${c.host}:${TLS_PORT}/`,
      ]);
      if (c.denied) {
        // curl shows only the status of a refused CONNECT; the reason is in the proxy's log
        assert.equal(r.code, 56, r.stderr);
        assert.match(r.stderr, /CONNECT tunnel failed, response 403/);
      } else {
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), {
          peer: lab.v4.source,
          host: `${c.host}:${TLS_PORT}`,
        });
      }
    });
  }

  it("HTTPS with the https_proxy variable: allowed and denied", async () => {
    const env = [`https_proxy=${proxyUrl({ proxy: "allowing" })}`];
    const ok = await curl(["--cacert", cert.certPath, `https://www.example.com:${TLS_PORT}/`], env);
    assert.equal((JSON.parse(ok.stdout) as { peer: string }).peer, lab.v4.source);
    const no = await curl(
      ["--cacert", cert.certPath, `https://other.example.net:${TLS_PORT}/`],
      env,
    );
    assert.equal(no.code, 56);
    assert.match(no.stderr, /CONNECT tunnel failed, response 403/);
  });

  it("CONNECT to a port outside the port list: 403, even where the rules allow", async () => {
    const r = await curl([
      "-w",
      "%{http_code}",
      "-o",
      "/dev/null",
      "-x",
      proxyUrl({ proxy: "denying" }),
      "-p",
      "http://203.0.113.26:22/",
    ]);
    assert.match(r.stderr, /CONNECT tunnel failed, response 403/);
    assert.match(logs.denying, /"reason":"port-not-allowed"/);
  });

  it("every decision is logged with its reason and rule line", () => {
    const decided = (name: Case["proxy"]) =>
      logs[name]
        .split("\n")
        .filter((l) => l.includes('"msg":"connection decided"'))
        .map(
          (l) =>
            JSON.parse(l) as {
              destination: string;
              reason: string;
              action: string;
              rule_line?: number;
            },
        );
    for (const c of cases) {
      const seen = decided(c.proxy).filter(
        (d) => d.destination === `${c.host}:80` || d.destination === `${c.host}:${TLS_PORT}`,
      );
      assert.ok(seen.length >= 2, `HTTP and HTTPS decisions for ${c.host}`);
      for (const d of seen) {
        assert.equal(d.action, c.denied ? "deny" : "allow", c.host);
        if (c.denied) assert.match(c.denied.source, new RegExp(`^${d.reason}:`), c.host);
        assert.equal(d.rule_line === undefined, d.reason === "no-rule-matched", c.host);
      }
    }
  });

  it("nothing left the router with another source address", async () => {
    const fw = await lab.firewall();
    assert.ok(fw.admitted > 0);
    assert.deepEqual(fw.rejectedSources, []);
  });
});

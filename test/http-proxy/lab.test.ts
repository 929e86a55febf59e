// End to end in the network-namespace lab, as OpenShift runs the HTTP proxy pod: the router
// image in http-proxy mode sets up the network (init container), then the proxy runs with
// nothing but its variables. A client pod uses it with real curl (-x and https_proxy), for
// HTTP and HTTPS, through every rule form; the external server sees the reserved source
// address, and its firewall (which admits only that address) rejects nothing.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { createLab, type Lab } from "../../src/lab/lab.ts";
import { testCertificate } from "../helpers/http-proxy.ts";
import { privileged } from "../helpers/privileged.ts";
import { binPath } from "../helpers/run-cli.ts";

const RULES = [
  "!192.0.2.0/24", // range deny: the cluster network, and names that resolve into it
  "!*.denied.example.org", // domain deny
  "!db.example.com", // exact name deny
  "203.0.113.26", // address allow
  "www.example.com", // exact name allow
  "*.example.com", // domain allow
].join("\n");
const TLS_PORT = 9443;

describe("HTTP proxy in the lab", privileged(), () => {
  let lab: Lab;
  let proxy: ChildProcess;
  let logs = "";
  const cert = testCertificate(["api.example.com", "www.example.com", "db.example.com"]);

  before(async () => {
    lab = await createLab({
      records: [
        { name: "api.example.com", addresses: ["203.0.113.25"] },
        { name: "db.example.com", addresses: ["203.0.113.26"] },
        { name: "www.example.com", addresses: ["203.0.113.27"] },
        { name: "x.denied.example.org", addresses: ["203.0.113.25"] },
        { name: "internal.example.com", addresses: ["192.0.2.10"] },
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
    // The proxy container: only its variables, as the OpenShift image got them.
    proxy = lab.spawn("router", [
      "env",
      "-i",
      `EGRESS_HTTP_PROXY_DESTINATION=${RULES}`,
      "EGRESS_LOG_FORMAT=json",
      "EGRESS_HTTP_PROXY_WORKERS=2",
      binPath,
    ]);
    proxy.stdout?.setEncoding("utf8").on("data", (d: string) => (logs += d));
    proxy.stderr?.setEncoding("utf8").on("data", (d: string) => (logs += d));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await lab.exec(
        "router",
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:9090/readyz"],
        { okCodes: [0, 7] },
      );
      if (r.stdout === "200") break;
      if (Date.now() > deadline) throw new Error(`the proxy did not get ready: ${logs}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await lab.resetFirewall();
  });

  after(async () => {
    proxy?.kill("SIGTERM");
    await lab?.down();
  });

  const proxyUrl = () => `http://${lab.v4.routerCluster}:8080`;
  const curl = (args: string[], env: string[] = []) =>
    lab.exec("client", ["env", "-i", ...env, "curl", "-sS", "-m", "10", ...args], {
      okCodes: [0, 22, 56],
    });
  const viaHttp = async (url: string) => {
    const r = await curl(["-w", "\\n%{http_code}", "-x", proxyUrl(), url]);
    const lines = r.stdout.trimEnd().split("\n");
    return { status: Number(lines.pop()), body: lines.join("\n") };
  };

  const allowed: [string, string][] = [
    ["a *.domain rule", "http://api.example.com/"],
    ["an exact name rule", "http://www.example.com/"],
    ["an address rule", "http://203.0.113.26/"],
  ];
  for (const [what, url] of allowed) {
    it(`allowed by ${what}: the external server sees the reserved source address`, async () => {
      const r = await viaHttp(url);
      assert.equal(r.status, 200, r.body);
      assert.equal((JSON.parse(r.body) as { peer: string }).peer, lab.v4.source);
    });
  }

  const denied: [string, string, RegExp][] = [
    ["an exact name deny", "http://db.example.com/", /host-matched: rule line 3/],
    ["a *.domain deny", "http://x.denied.example.org/", /domain-matched: rule line 2/],
    [
      "a range deny, on what the name resolves to",
      "http://internal.example.com/",
      /resolved-range-matched: resolves to 192\.0\.2\.10, rule line 1/,
    ],
    ["a range deny, on a literal", "http://192.0.2.10/", /range-matched: rule line 1/],
    ["no rule (no final *)", "http://203.0.113.25/", /no-rule-matched/],
  ];
  for (const [what, url, reason] of denied) {
    it(`denied by ${what}: 403 with the reason`, async () => {
      const r = await viaHttp(url);
      assert.equal(r.status, 403);
      assert.match(r.body, reason);
    });
  }

  it("HTTPS through CONNECT with curl -x: the TLS server sees the reserved source", async () => {
    const r = await curl([
      "--cacert",
      cert.certPath,
      "-x",
      proxyUrl(),
      `https://api.example.com:${TLS_PORT}/`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      peer: lab.v4.source,
      host: `api.example.com:${TLS_PORT}`,
    });
  });

  it("HTTPS with https_proxy; a denied name gets 403 before any tunnel", async () => {
    const ok = await curl(
      ["--cacert", cert.certPath, `https://www.example.com:${TLS_PORT}/`],
      [`https_proxy=${proxyUrl()}`],
    );
    assert.equal((JSON.parse(ok.stdout) as { peer: string }).peer, lab.v4.source);
    const no = await curl(
      ["--cacert", cert.certPath, `https://db.example.com:${TLS_PORT}/`],
      [`https_proxy=${proxyUrl()}`],
    );
    assert.equal(no.code, 56);
    assert.match(no.stderr, /CONNECT tunnel failed, response 403/);
  });

  it("nothing left the router with another source address", async () => {
    const fw = await lab.firewall();
    assert.ok(fw.admitted > 0);
    assert.deepEqual(fw.rejectedSources, []);
  });
});

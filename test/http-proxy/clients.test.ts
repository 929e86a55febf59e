// Real clients configured the ways people configure them: curl -x, the http_proxy /
// https_proxy variables (curl, node's NODE_USE_ENV_PROXY, Python), for plain HTTP and HTTPS.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { startOrigin, startProxy, startTlsOrigin, testCertificate } from "../helpers/http-proxy.ts";

const run = promisify(execFile);
const LOOPBACK = "127.0.0.0/8";
const PATH = process.env["PATH"] ?? "/usr/bin:/bin";

describe("clients: plain HTTP", () => {
  it("curl -x", async (t) => {
    const origin = await startOrigin(t);
    const { url } = await startProxy(t, LOOPBACK);
    const { stdout } = await run("curl", ["-sS", "-x", url, `http://127.0.0.1:${origin.port}/x`]);
    assert.deepEqual(JSON.parse(stdout), { method: "GET", url: "/x", bytes: 0 });
  });

  it("curl with http_proxy", async (t) => {
    const origin = await startOrigin(t);
    const { url } = await startProxy(t, LOOPBACK);
    const { stdout } = await run(
      "curl",
      ["-sS", "-d", "abc", `http://127.0.0.1:${origin.port}/env`],
      {
        env: { http_proxy: url, PATH },
      },
    );
    assert.deepEqual(JSON.parse(stdout), { method: "POST", url: "/env", bytes: 3 });
    assert.equal(
      origin.seen[0]?.headers.via,
      "1.1 egress-router-test",
      "it went through the proxy",
    );
  });

  it("node http with NODE_USE_ENV_PROXY and http_proxy (absolute-form)", async (t) => {
    const origin = await startOrigin(t);
    const { url } = await startProxy(t, LOOPBACK);
    const code = `import http from "node:http"; http.get(process.argv[1], (r) => r.pipe(process.stdout));`;
    const { stdout } = await run(
      process.execPath,
      ["--input-type=module", "-e", code, `http://127.0.0.1:${origin.port}/node`],
      { env: { NODE_USE_ENV_PROXY: "1", http_proxy: url, PATH } },
    );
    assert.deepEqual(JSON.parse(stdout), { method: "GET", url: "/node", bytes: 0 });
    assert.equal(origin.seen[0]?.headers.via, "1.1 egress-router-test");
  });

  it("node fetch with NODE_USE_ENV_PROXY and http_proxy (undici tunnels plain HTTP too)", async (t) => {
    const origin = await startOrigin(t);
    const { url, proxy } = await startProxy(t, LOOPBACK);
    const code = `const r = await fetch(process.argv[1]); process.stdout.write(await r.text());`;
    const { stdout } = await run(
      process.execPath,
      ["--input-type=module", "-e", code, `http://127.0.0.1:${origin.port}/fetch`],
      { env: { NODE_USE_ENV_PROXY: "1", http_proxy: url, PATH } },
    );
    assert.deepEqual(JSON.parse(stdout), { method: "GET", url: "/fetch", bytes: 0 });
    assert.equal(proxy.stats().tunnelsOpened, 1, "it went through a CONNECT tunnel");
  });

  it("python urllib with http_proxy", async (t) => {
    const origin = await startOrigin(t);
    const { url } = await startProxy(t, LOOPBACK);
    const { stdout } = await run(
      "python3",
      [
        "-c",
        "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode(), end='')",
        `http://127.0.0.1:${origin.port}/py`,
      ],
      { env: { http_proxy: url, PATH } },
    );
    assert.deepEqual(JSON.parse(stdout), { method: "GET", url: "/py", bytes: 0 });
    assert.equal(origin.seen[0]?.headers.via, "1.1 egress-router-test");
  });
});

describe("clients: HTTPS", () => {
  it("node fetch with NODE_USE_ENV_PROXY and https_proxy (CONNECT)", async (t) => {
    const tlsOrigin = await startTlsOrigin(t);
    const { url, proxy } = await startProxy(t, LOOPBACK);
    const { certPath } = testCertificate();
    const code = `const r = await fetch(process.argv[1]); process.stdout.write(await r.text());`;
    const { stdout } = await run(
      process.execPath,
      ["--input-type=module", "-e", code, `https://127.0.0.1:${tlsOrigin.port}/fetch`],
      { env: { NODE_USE_ENV_PROXY: "1", https_proxy: url, NODE_EXTRA_CA_CERTS: certPath, PATH } },
    );
    assert.equal(stdout, "secure GET /fetch\n");
    assert.equal(proxy.stats().tunnelsOpened, 1);
  });

  it("python urllib with https_proxy", async (t) => {
    const tlsOrigin = await startTlsOrigin(t);
    const { url, proxy } = await startProxy(t, LOOPBACK);
    const { stdout } = await run(
      "python3",
      [
        "-c",
        "import ssl, sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10, context=ssl.create_default_context(cafile=sys.argv[2])).read().decode(), end='')",
        `https://127.0.0.1:${tlsOrigin.port}/py`,
        tlsOrigin.certPath,
      ],
      { env: { https_proxy: url, PATH } },
    );
    assert.equal(stdout, "secure GET /py\n");
    assert.equal(proxy.stats().tunnelsOpened, 1);
  });
});

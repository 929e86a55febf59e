// A forwarding thread that dies is replaced, with the current rules and pools, while the
// others keep forwarding.
import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import { ConnectionLimit } from "./connection-limit.ts";
import { defaultForwardOptions } from "./forward-config.ts";
import { ForwardWorkers } from "./forward-workers.ts";

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, "127.0.0.1");
  await new Promise((r) => s.once("listening", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function echoOnce(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    let got = "";
    c.setEncoding("utf8");
    c.on("data", (d: string) => (got += d));
    c.on("end", () => {
      c.destroy();
      resolve(got);
    });
    c.on("error", reject);
    c.end(text);
  });
}

describe("ForwardWorkers", () => {
  it("replaces a forwarding thread that died; the others carry on", async (t) => {
    const backend = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
    backend.listen(0, "127.0.0.1");
    await new Promise((r) => backend.once("listening", r));
    t.after(() => backend.close());
    const target = (backend.address() as net.AddressInfo).port;
    const port = await freePort();
    const options = {
      ...defaultForwardOptions,
      listenAddresses: ["127.0.0.1"],
      healthCheck: { ...defaultForwardOptions.healthCheck, intervalMs: 0 },
    };
    const workers = new ForwardWorkers(
      2,
      options,
      new ConnectionLimit(100).memory,
      () => undefined,
    );
    t.after(() => workers.terminate());
    await workers.start();
    const key = `127.0.0.1:${target}`;
    workers.pool({
      t: "pool",
      key,
      port: target,
      states: [{ address: "127.0.0.1", up: true, downUntil: 0, failures: 0, lastError: undefined }],
      empty: { kind: "no-address", message: "none" },
    });
    const rule = {
      line: 1,
      text: `${port} 127.0.0.1 ${target}`,
      localPort: port,
      target: { kind: "address" as const, address: "127.0.0.1", family: 4 as const },
      remotePort: target,
      idleTimeoutMs: 0,
    };
    await workers.apply([rule]);
    assert.equal(await echoOnce(port, "before"), "before");

    await workers.threads[0]?.terminate();
    // The survivor keeps the port: every connection is served meanwhile.
    for (let i = 0; i < 5; i++) assert.equal(await echoOnce(port, `during ${i}`), `during ${i}`);
    // Replaced after a second, with the rules: it listens on the port too.
    const listening = (): number[][] => workers.stats().map((s) => s.listeners.map((l) => l.port));
    const deadline = Date.now() + 10_000;
    while (JSON.stringify(listening()) !== JSON.stringify([[port], [port]])) {
      if (Date.now() > deadline) assert.fail(`not replaced: ${JSON.stringify(listening())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(workers.restarts, 1);
    for (let i = 0; i < 5; i++) assert.equal(await echoOnce(port, `after ${i}`), `after ${i}`);
  });
});

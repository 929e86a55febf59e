// Dialing the checked addresses: the first that connects wins (a refused one is skipped, a
// silent one is overtaken after the stagger delay), a refusal is classified, the timeout
// holds, and only the given addresses are ever tried.
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { describe, it } from "node:test";
import { DialError, dial } from "../../src/net/dial.ts";
import { RawSocket, type SocketHandlers } from "../../src/net/raw-socket.ts";
import { startBlackhole } from "../helpers/blackhole.ts";
import { freePort } from "../helpers/net.ts";

/** Reads a dialed handle to its end. */
function readAll(handle: ConstructorParameters<typeof RawSocket>[0]): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    const handlers: SocketHandlers = {
      data: (c) => (text += c.toString()),
      end() {
        this.destroy();
      },
      drain() {},
      error() {},
      close: () => resolve(text),
    };
    new RawSocket(handle, handlers, undefined).resume();
  });
}

describe("dial", () => {
  it("the refused address is skipped; the next one connects", async (t) => {
    const port = await freePort();
    const server = net.createServer((s) => s.end("over v4"));
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    t.after(() => server.close());
    const d = await dial({
      addresses: ["::1", "127.0.0.1"],
      port,
      timeoutMs: 2000,
      mode: "http-proxy",
    });
    assert.equal(d.address, "127.0.0.1");
    assert.equal(await readAll(d.handle), "over v4");
  });

  it("every address refused: the first one's error, classified", async () => {
    const port = await freePort();
    const err = await dial({
      addresses: ["127.0.0.1", "::1"],
      port,
      timeoutMs: 2000,
      mode: "http-proxy",
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof DialError);
    assert.deepEqual([err.failure, err.code], ["refused", "ECONNREFUSED"]);
  });

  it("no answer at all: a timeout after timeoutMs", async (t) => {
    const port = await startBlackhole(t);
    const started = Date.now();
    const err = await dial({
      addresses: ["127.0.0.1"],
      port,
      timeoutMs: 300,
      mode: "http-proxy",
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof DialError);
    assert.deepEqual([err.failure, err.code], ["timeout", "ETIMEDOUT"]);
    assert.ok(Date.now() - started < 3000);
  });

  it("a silent first address is overtaken by the next after the stagger delay", async (t) => {
    const silent = await startBlackhole(t);
    const server = net.createServer((s) => s.end("second"));
    server.listen(silent, "::1");
    await once(server, "listening");
    t.after(() => server.close());
    const d = await dial({
      addresses: ["127.0.0.1", "::1"],
      port: silent,
      timeoutMs: 5000,
      mode: "http-proxy",
    });
    assert.equal(d.address, "::1");
    assert.equal(await readAll(d.handle), "second");
  });
});

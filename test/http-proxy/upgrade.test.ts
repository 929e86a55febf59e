// Upgrade requests (WebSocket over plain HTTP, absolute-form): decided like any request,
// forwarded on a fresh connection, and turned into a tunnel when the origin answers 101.
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { describe, it } from "node:test";
import { headerOf, rawExchange, startOrigin, startProxy, statusOf } from "../helpers/http-proxy.ts";

const upgradeRequest = (port: number) =>
  `GET http://127.0.0.1:${port}/chat HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;

describe("Upgrade", () => {
  it("101 from the origin: both sides become one tunnel, bytes flow both ways", async (t) => {
    const origin = await startOrigin(t);
    let seenUpgrade = "";
    origin.server.on(
      "upgrade",
      (req: { headers: Record<string, string> }, socket: net.Socket, head: Buffer) => {
        seenUpgrade = `${req.headers["upgrade"]} ${req.headers["connection"]}`;
        socket.write(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nserver-first;",
        );
        if (head.length) socket.write(`head:${head.toString()};`); // never: the proxy holds them back
        socket.on("data", (d: Buffer) => socket.write(`echo:${d.toString()};`));
      },
    );
    const { port } = await startProxy(t, "127.0.0.0/8");
    const c = net.connect({ port, host: "127.0.0.1" });
    t.after(() => c.destroy());
    await once(c, "connect");
    c.write(upgradeRequest(origin.port) + "early");
    let text = "";
    c.on("data", (d: Buffer) => (text += d.toString()));
    const until = async (s: string) => {
      const deadline = Date.now() + 5000;
      while (!text.includes(s) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      assert.ok(text.includes(s), `${s} in ${text}`);
    };
    // bytes the client sent behind its request belong to the new protocol: after the 101
    await until("echo:early;");
    c.write("ping");
    await until("echo:ping;");
    assert.equal(statusOf(text), 101);
    assert.equal(headerOf(text, "upgrade"), "websocket");
    assert.equal(headerOf(text, "sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert.equal(
      seenUpgrade,
      "websocket Upgrade",
      "the origin got Upgrade and Connection: Upgrade",
    );
    assert.match(text, /\r\n\r\nserver-first;echo:early;echo:ping;$/);
  });

  it("an origin that declines (no 101): its answer reaches the client, then the connection closes", async (t) => {
    const origin = await startOrigin(t, (_req, res) =>
      res.writeHead(426, { "content-length": 7 }).end("upgrade"),
    );
    origin.server.removeAllListeners("upgrade");
    const { port } = await startProxy(t, "127.0.0.0/8");
    const r = await rawExchange(port, upgradeRequest(origin.port));
    assert.equal(statusOf(r.text), 426);
    assert.ok(r.text.endsWith("upgrade"));
    assert.equal(r.ended, "end");
  });

  it("a denied destination: 403, no connection to it", async (t) => {
    const origin = await startOrigin(t);
    let upgrades = 0;
    origin.server.on("upgrade", () => upgrades++);
    const { port } = await startProxy(t, "!127.0.0.1\n127.0.0.0/8");
    const r = await rawExchange(port, upgradeRequest(origin.port));
    assert.equal(statusOf(r.text), 403);
    assert.equal(upgrades, 0);
    assert.equal(origin.connections, 0);
  });
});

// The HTTP proxy Service as the daemon host drives it: start on port 0 with several workers
// (the first one's port is shared), apply a new policy to all of them, status, stop.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readHttpProxySettings } from "../../src/config/http-proxy-settings.ts";
import { compileHttpProxyRules, httpProxyMode } from "../../src/service/http-proxy-mode.ts";
import { captureEvents, rawExchange, startOrigin, statusOf } from "../helpers/http-proxy.ts";
import { waitFor } from "../helpers/net.ts";

const get = (port: number) =>
  `GET http://127.0.0.1:${port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;

for (const workers of ["1", "2"]) {
  describe(`http-proxy service with ${workers} worker(s)`, () => {
    it("starts on one shared port, applies a policy to every worker, reports, stops", async (t) => {
      const origin = await startOrigin(t);
      const settings = readHttpProxySettings(
        {
          EGRESS_HTTP_PROXY_ADDRESS: "127.0.0.1",
          EGRESS_HTTP_PROXY_PORT: "1",
          EGRESS_HTTP_PROXY_WORKERS: workers,
        },
        {},
      );
      const mode = httpProxyMode({ ...settings, port: 0 });
      const decisions = captureEvents(t, "decision");
      const service = mode.create(mode.compile("127.0.0.0/8"));
      await service.start();
      t.after(() => service.stop(0));
      const port = service.status().listeners[0]?.port ?? 0;
      assert.ok(port > 0);
      assert.equal(service.status().listeners[0]?.up, true);
      for (let i = 0; i < 4; i++)
        assert.equal(statusOf((await rawExchange(port, get(origin.port))).text), 200);
      await service.apply(compileHttpProxyRules("!127.0.0.1\n127.0.0.0/8", settings));
      for (let i = 0; i < 8; i++)
        assert.equal(statusOf((await rawExchange(port, get(origin.port))).text), 403);
      // events from every worker reach this process's subscribers
      await waitFor("12 decisions", () => (decisions.length >= 12 ? true : undefined));
      const status = await waitFor("the hits of the new rules", () => {
        const s = service.status();
        return s.rules[0]?.hits === 8 ? s : undefined;
      });
      assert.deepEqual(
        status.rules.map((r) => [r.line, r.text, r.hits]),
        [
          [1, "!127.0.0.1", 8],
          [2, "127.0.0.0/8", 0],
        ],
      );
      assert.equal(status["workers"], Number(workers));
      await service.stop(0);
      const refused = await rawExchange(port, get(origin.port)).catch(() => ({ text: "" }));
      assert.equal(statusOf(refused.text), 0, "nothing listens after stop");
    });
  });
}

// The end of a forwarded connection while the proxy still holds bytes for one side: the
// second FIN arrives with writes queued, and the connection may only close once they are
// with the kernel. On loopback the kernel takes megabytes before the proxy has to queue
// anything, so this runs in a network namespace of its own with small TCP buffers
// (tcp_wmem / tcp_rmem are per namespace), where a peer that does not read makes the proxy
// queue within a few dozen KiB (test/fixtures/tcp-proxy-queued-end.ts runs the proxy and
// both peers there).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { privileged } from "./helpers/privileged.ts";

const fixture = fileURLToPath(new URL("./fixtures/tcp-proxy-queued-end.ts", import.meta.url));
const node = fileURLToPath(new URL("../node_modules/node/bin/node", import.meta.url));

describe("DNS proxy: the last FIN while writes are still queued", privileged(), () => {
  const ns = `egress-bufs-${process.pid}-${randomBytes(3).toString("hex")}`;
  const ip = (...args: string[]): string => execFileSync("ip", args, { encoding: "utf8" });

  before(() => {
    ip("netns", "add", ns);
    ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
    ip("netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.tcp_wmem=4096 16384 16384");
    ip("netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.tcp_rmem=4096 16384 16384");
    // The setting must be the namespace's own (kernels since 4.15), or this tests nothing.
    assert.match(
      ip("netns", "exec", ns, "sysctl", "-n", "net.ipv4.tcp_wmem"),
      /^4096\s+16384\s+16384/,
    );
  });
  after(() => {
    try {
      ip("netns", "delete", ns);
    } catch {
      // already gone
    }
  });

  for (const threads of [1, 2]) {
    it(`every byte arrives both ways, then a normal close (${threads} thread${threads > 1 ? "s" : ""})`, () => {
      const out = execFileSync(
        "ip",
        [
          "netns",
          "exec",
          ns,
          node,
          "--disable-warning=ExperimentalWarning",
          fixture,
          String(threads),
        ],
        { encoding: "utf8", timeout: 120_000 },
      );
      const results = out
        .trim()
        .split("\n")
        .map(
          (l) =>
            JSON.parse(l) as {
              name: string;
              toClient: boolean;
              toTarget: boolean;
              end: string;
              bytesFromClient: number;
              bytesToClient: number;
              expected: { bytesFromClient: number; bytesToClient: number };
            },
        );
      assert.equal(results.length, 3);
      for (const r of results) {
        assert.deepEqual(
          {
            toClient: r.toClient,
            toTarget: r.toTarget,
            end: r.end,
            bytesFromClient: r.bytesFromClient,
            bytesToClient: r.bytesToClient,
          },
          { toClient: true, toTarget: true, end: "done", ...r.expected },
          r.name,
        );
      }
    });
  }
});

// The proxy modes' demo scenarios. Each group is an OpenShift pod: the init container
// (EGRESS_ROUTER_MODE=http-proxy or dns-proxy) sets up the egress network only, then the
// proxy container runs with nothing but its own variables. The client pod talks to the
// router's cluster address; the external server says which source address it saw.
import type { ChildProcess } from "node:child_process";
import type { DemoContext, Expectation, Scenario, ScenarioGroup } from "./demo-scenario.ts";
import type { ProbeResult } from "./lab-probe.ts";
import type { ServerView } from "./lab-server.ts";
import { labTopology } from "./topology.ts";

const { v4 } = labTopology("x");
const [e25 = "", e26 = "", e27 = ""] = v4.external;

const reply = (address: string, port: number): Expectation => ({
  outcome: "reply",
  at: `${address}:${port}`,
});
const refused: Expectation = { outcome: "refused" };

function checked(r: { code: number; stderr: string }, what: string): void {
  if (r.code !== 0) {
    throw new Error(
      `${what} failed: ${r.stderr.trim().split("\n").at(-1) ?? `exit code ${r.code}`}`,
    );
  }
}

/** Clears what earlier groups left in the router pod, then runs the proxy's init container. */
async function initContainer(ctx: DemoContext, mode: "http-proxy" | "dns-proxy"): Promise<void> {
  const base = { EGRESS_SOURCE: v4.source, EGRESS_GATEWAY: v4.gateway };
  checked(await ctx.runRouter(["redirect", "--remove"], base), "removing the redirect rules");
  checked(
    await ctx.runRouter([], { ...base, EGRESS_ROUTER_MODE: mode }),
    `the ${mode} init container`,
  );
}

/** Waits until the proxy container reports ready on its admin port (inside the router pod). */
async function waitReady(
  ctx: DemoContext,
  proxy: ChildProcess,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proxy.exitCode !== null)
      throw new Error(`the proxy exited (${proxy.exitCode}): ${output().slice(-400)}`);
    const r = await ctx.lab.exec(
      "router",
      ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:9090/readyz"],
      { okCodes: [0, 7, 28] },
    );
    if (r.stdout === "200") return;
    if (Date.now() > deadline)
      throw new Error(`the proxy did not get ready: ${output().slice(-400)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function stop(proxy: ChildProcess | undefined): Promise<void> {
  if (!proxy || proxy.exitCode !== null) return;
  const exited = new Promise((resolve) => proxy.once("exit", resolve));
  proxy.kill("SIGTERM");
  await exited;
}

function startProxy(
  ctx: DemoContext,
  env: Record<string, string>,
): { proxy: ChildProcess; output: () => string } {
  let text = "";
  const proxy = ctx.spawnRouter([], {
    ...env,
    EGRESS_LOG_FORMAT: "json",
    EGRESS_DRAIN_SECONDS: "2",
  });
  proxy.stdout?.setEncoding("utf8").on("data", (d: string) => (text += d));
  proxy.stderr?.setEncoding("utf8").on("data", (d: string) => (text += d));
  return { proxy, output: () => text };
}

/** One request through the HTTP proxy with real curl in the client pod. */
function viaProxy(url: string, tunnel: boolean, rule: string, expect: Expectation): Scenario {
  return {
    asked: tunnel ? `CONNECT ${new URL(url).host}` : `GET ${url.replace(/^http:\/\//, "")}`,
    rule,
    expect,
    async run(ctx): Promise<ProbeResult> {
      const start = performance.now();
      const r = await ctx.lab.exec(
        "client",
        [
          "curl",
          "-sS",
          "-m",
          "10",
          "-w",
          "\\n%{http_code}",
          ...(tunnel ? ["-p"] : []),
          "-x",
          `http://${v4.routerCluster}:8080`,
          url,
        ],
        { okCodes: [0, 7, 22, 28, 56] },
      );
      const ms = Math.round(performance.now() - start);
      const lines = r.stdout.trimEnd().split("\n");
      const status = Number(lines.pop());
      const body = lines.join("\n");
      if (status === 200) {
        try {
          return { outcome: "reply", view: JSON.parse(body) as ServerView, ms };
        } catch {
          return { outcome: "error", detail: `unexpected answer: ${body.slice(0, 80)}`, ms };
        }
      }
      if (status === 403) return { outcome: "refused", detail: body.trim(), ms };
      return { outcome: "error", detail: `HTTP ${status} ${r.stderr.trim()}`.trim(), ms };
    },
  };
}

const httpRules = ["!192.0.2.0/24", "api.example.com", "*.example.com", "!db.example.com", e27];

function httpProxyGroup(): ScenarioGroup {
  let running: { proxy: ChildProcess; output: () => string } | undefined;
  return {
    mode: "http-proxy",
    title: "HTTP proxy mode: EGRESS_HTTP_PROXY_DESTINATION, first match wins, HTTP and CONNECT",
    settings: [
      "init container: EGRESS_ROUTER_MODE=http-proxy (network only); the client uses curl -x <router>:8080",
      ...httpRules.map((r, i) => `EGRESS_HTTP_PROXY_DESTINATION line ${i + 1}: ${r}`),
    ],
    async setup(ctx) {
      await initContainer(ctx, "http-proxy");
      running = startProxy(ctx, {
        EGRESS_HTTP_PROXY_DESTINATION: httpRules.join("\n"),
        EGRESS_HTTP_PROXY_WORKERS: "1",
      });
      await waitReady(ctx, running.proxy, running.output);
      return "proxy listening on :8080 (admin server on 9090)";
    },
    async teardown() {
      await stop(running?.proxy);
    },
    scenarios: [
      viaProxy("http://api.example.com/", false, "line 2: api.example.com", reply(e25, 80)),
      viaProxy("http://www.example.com:8080/", false, "line 3: *.example.com", reply(e27, 8080)),
      viaProxy(
        "http://db.example.com:8080/",
        true,
        "line 3: *.example.com (CONNECT tunnel)",
        reply(e26, 8080),
      ),
      viaProxy(`http://${e27}/`, false, `line 5: ${e27} (an address)`, reply(e27, 80)),
      viaProxy(
        "http://internal.example.com/",
        false,
        "line 1: !192.0.2.0/24 (what it resolves to)",
        refused,
      ),
      viaProxy(`http://${e26}/`, false, "no rule matches, no final *: denied", refused),
    ],
  };
}

const dnsRules = [`7000 ${e27}`, "5432 db.example.com", "8443 api.example.com 443"];

function dnsProxyGroup(): ScenarioGroup {
  let running: { proxy: ChildProcess; output: () => string } | undefined;
  const tcp = (port: number, rule: string, expect: Expectation): Scenario => ({
    asked: `tcp ${v4.routerCluster}:${port}`,
    rule,
    expect,
    run: (ctx) => ctx.lab.probe("client", { protocol: "tcp", address: v4.routerCluster, port }),
  });
  return {
    mode: "dns-proxy",
    title: "DNS proxy mode: local TCP ports forwarded to addresses and names",
    settings: [
      "init container: EGRESS_ROUTER_MODE=dns-proxy (network only); EGRESS_DNS_PROXY_HEALTH_CHECK=0",
      ...dnsRules.map((r, i) => `EGRESS_DNS_PROXY_DESTINATION line ${i + 1}: ${r}`),
    ],
    async setup(ctx) {
      await initContainer(ctx, "dns-proxy");
      // Active health checks off: their probes would reach the outside during the refusal row.
      running = startProxy(ctx, {
        EGRESS_DNS_PROXY_DESTINATION: dnsRules.join("\n"),
        EGRESS_DNS_PROXY_HEALTH_CHECK: "0",
      });
      await waitReady(ctx, running.proxy, running.output);
      return "forwarders listening on 7000, 5432, 8443 (admin server on 9090)";
    },
    async teardown() {
      await stop(running?.proxy);
    },
    scenarios: [
      tcp(7000, `line 1: 7000 ${e27}`, reply(e27, 7000)),
      tcp(5432, "line 2: 5432 db.example.com (resolved in the lab's DNS)", reply(e26, 5432)),
      tcp(8443, "line 3: 8443 api.example.com 443 (remote port)", reply(e25, 443)),
      tcp(9000, "no rule for this port: no listener, refused", refused),
    ],
  };
}

export const proxyScenarioGroups: readonly ScenarioGroup[] = [httpProxyGroup(), dnsProxyGroup()];

// The HTTP proxy as a Service of the daemon host: with one worker, the proxy runs in this
// thread; with more, http-proxy-workers.ts runs one worker thread per CPU.
import type { HttpProxySettings } from "../config/http-proxy-settings.ts";
import { createHttpProxy, type HttpProxy } from "../http-proxy/proxy-server.ts";
import { createResolver } from "../net/resolver.ts";
import type { Service, ServiceHost } from "../observe/service.ts";
import type { HttpPolicy } from "../policy/http-policy.ts";
import { listenProblem, newViaToken, statusOf } from "./http-proxy-status.ts";
import { workerService } from "./http-proxy-workers.ts";

/** The proxy in this process (one worker). */
function inProcessService(s: HttpProxySettings, initial: HttpPolicy): Service<HttpPolicy> {
  let policy = initial;
  let proxy: HttpProxy | undefined;
  let port = s.port;
  let up = false;
  return {
    async start() {
      proxy = createHttpProxy({
        policy,
        resolver: createResolver({
          servers: s.dnsServers,
          cacheMs: s.dnsCacheMs,
          timeoutMs: s.dnsTimeoutMs,
        }),
        audit: s.audit,
        resolveTimeoutMs: s.dnsTimeoutMs,
        connectTimeoutMs: s.connectTimeoutMs,
        headerTimeoutMs: s.headerTimeoutMs,
        keepAliveTimeoutMs: s.keepAliveTimeoutMs,
        idleTimeoutMs: s.idleTimeoutMs,
        maxConnections: s.maxConnections,
        maxHeaderBytes: s.maxHeaderBytes,
        viaToken: newViaToken(),
        listenerName: String(s.port),
      });
      try {
        port = (await proxy.listen({ host: s.address, port: s.port, reusePort: false })).port;
        up = true;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        await proxy.close(0);
        throw listenProblem(s, e.code ?? "EUNKNOWN", e.message);
      }
    },
    apply(next) {
      policy = next;
      proxy?.setPolicy(next);
      return Promise.resolve();
    },
    async stop(drainMs) {
      up = false;
      await proxy?.close(drainMs);
    },
    status() {
      const stats = proxy?.stats();
      const current = stats ? [stats] : [];
      return statusOf(s, port, up, policy, current, { workers: 1 });
    },
  };
}

export function createHttpProxyService(
  s: HttpProxySettings,
  policy: HttpPolicy,
  host?: ServiceHost,
): Service<HttpPolicy> {
  return s.workers <= 1 ? inProcessService(s, policy) : workerService(s, policy, host);
}

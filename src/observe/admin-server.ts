// The admin server: metrics, health, readiness, status. Its own port, never a data port.
// Read-only: GET and HEAD only, no request body is read, nothing it serves loads anything
// from elsewhere (the page's script and style come from this server, pinned by CSP).
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Readiness {
  readonly ready: boolean;
  /** why not ready, one phrase each (empty when ready) */
  readonly reasons: readonly string[];
}

/** Every path the admin server answers; docs/operations.md lists each (a test checks). */
export const adminPaths = [
  "/",
  "/status.json",
  "/metrics",
  "/healthz",
  "/readyz",
  "/status/fragment",
  "/status.js",
  "/status.css",
] as const;

/** The readiness reason while draining; the page shows "draining" for it. */
export const shuttingDown = "shutting down";

export interface AdminHandlers {
  readiness(): Readiness;
  statusJson(): unknown;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** the full status page */
  page(): string;
  /** the part of the page that refreshes */
  fragment(): string;
  readonly script: string;
  readonly style: string;
}

export interface AdminServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const securityHeaders = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
} as const;

const pageCsp =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...securityHeaders,
    "content-type": type,
    "content-length": Buffer.byteLength(body),
    ...extra,
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

const text = "text/plain; charset=utf-8";

async function route(h: AdminHandlers, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(req, res, 405, text, "method not allowed: the admin server is read-only\n", {
      allow: "GET, HEAD",
    });
    return;
  }
  switch (path) {
    case "/healthz":
      send(req, res, 200, text, "ok\n");
      return;
    case "/readyz": {
      const r = h.readiness();
      if (r.ready) send(req, res, 200, text, "ready\n");
      else send(req, res, 503, text, `not ready: ${r.reasons.join("; ")}\n`);
      return;
    }
    case "/metrics": {
      const m = await h.metrics();
      send(req, res, 200, m.contentType, m.body);
      return;
    }
    case "/status.json":
      send(
        req,
        res,
        200,
        "application/json; charset=utf-8",
        JSON.stringify(h.statusJson(), null, 2) + "\n",
      );
      return;
    case "/":
      send(req, res, 200, "text/html; charset=utf-8", h.page(), {
        "content-security-policy": pageCsp,
      });
      return;
    case "/status/fragment": {
      const r = h.readiness();
      send(req, res, 200, "text/html; charset=utf-8", h.fragment(), {
        "content-security-policy": pageCsp,
        "x-egress-ready": r.ready ? "1" : r.reasons.includes(shuttingDown) ? "draining" : "0",
      });
      return;
    }
    case "/status.js":
      send(req, res, 200, "text/javascript; charset=utf-8", h.script);
      return;
    case "/status.css":
      send(req, res, 200, "text/css; charset=utf-8", h.style);
      return;
    default:
      send(req, res, 404, text, "not found; try /, /status.json, /metrics, /healthz or /readyz\n");
  }
}

/** Listens on `address:port` (port 0: any free port, for tests). */
export async function startAdminServer(
  address: string,
  port: number,
  handlers: AdminHandlers,
  onError: (err: Error) => void,
): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    req.resume();
    route(handlers, req, res).catch((err: unknown) => {
      onError(err as Error);
      if (!res.headersSent) send(req, res, 500, text, "internal error; see the router's log\n");
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", onError);
  const a = server.address() as AddressInfo;
  const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
  return {
    url: `http://${host}:${a.port}`,
    port: a.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

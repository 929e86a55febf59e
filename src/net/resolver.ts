// Name resolution for the proxies: one answer per name, every address of it, reused for a
// short, bounded time. Two sources:
//   - the system resolver (getaddrinfo: /etc/hosts, search domains, nsswitch), the default,
//     as Squid and every libc client in the pod would resolve;
//   - given DNS servers (c-ares), when EGRESS_HTTP_PROXY_DNS_SERVERS is set: answers carry a
//     TTL, which bounds the reuse.
// Concurrent lookups of one name share one query. A lookup that takes longer than the
// timeout fails as "timeout" (getaddrinfo itself cannot be cancelled; its late answer is
// dropped). Every real lookup is published on the resolve channel.
import dns from "node:dns";
import { publishResolve } from "../observe/events.ts";

export type ResolveFailure = "not-found" | "timeout" | "failed";

export class ResolveError extends Error {
  readonly failure: ResolveFailure;
  /** the resolver's code, e.g. ENOTFOUND, ETIMEOUT, ESERVFAIL */
  readonly code: string;
  constructor(name: string, failure: ResolveFailure, code: string) {
    super(`Cannot resolve "${name}": ${code}`);
    this.name = "ResolveError";
    this.failure = failure;
    this.code = code;
  }
}

export interface ResolverOptions {
  /** DNS servers as "address" or "address:port" ("[v6]:port"); empty: the system resolver */
  readonly servers: readonly string[];
  /** reuse an answer at most this long (and never longer than its TTL); 0: no reuse */
  readonly cacheMs: number;
  /** a lookup fails with "timeout" after this long */
  readonly timeoutMs: number;
  /** entries kept at most (oldest dropped first) */
  readonly maxEntries?: number;
}

export interface Resolver {
  /** Every address of `name` (IPv4 first, then IPv6), at least one, or a ResolveError. */
  resolve(name: string): Promise<readonly string[]>;
  /** The reusable answer for `name` right now, without a lookup; undefined when there is none. */
  cached(name: string): readonly string[] | undefined;
}

interface Entry {
  readonly addresses: readonly string[];
  readonly expires: number;
}

const notFoundCodes = new Set(["ENOTFOUND", "ENODATA", "EAI_NONAME", "EAI_NODATA", "NXDOMAIN"]);
const timeoutCodes = new Set(["ETIMEOUT", "ETIMEDOUT"]);

function classify(code: string): ResolveFailure {
  if (notFoundCodes.has(code)) return "not-found";
  if (timeoutCodes.has(code)) return "timeout";
  return "failed";
}

interface Answer {
  readonly addresses: string[];
  readonly ttlSeconds: number | undefined;
}

type Lookup = (name: string) => Promise<Answer>;

function systemLookup(name: string): Promise<Answer> {
  return dns.promises.lookup(name, { all: true, order: "ipv4first" }).then((list) => ({
    addresses: list.map((a) => a.address),
    ttlSeconds: undefined,
  }));
}

function serversLookup(servers: readonly string[], timeoutMs: number): Lookup {
  const r = new dns.promises.Resolver({
    timeout: Math.max(1, Math.floor(timeoutMs / 2)),
    tries: 2,
  });
  r.setServers([...servers]);
  return async (name) => {
    const [v4, v6] = await Promise.allSettled([
      r.resolve4(name, { ttl: true }),
      r.resolve6(name, { ttl: true }),
    ]);
    const addresses: string[] = [];
    let ttl = Infinity;
    for (const s of [v4, v6]) {
      if (s.status !== "fulfilled") continue;
      for (const a of s.value) {
        addresses.push(a.address);
        ttl = Math.min(ttl, a.ttl);
      }
    }
    if (addresses.length > 0) return { addresses, ttlSeconds: ttl };
    // Both failed or both empty: report the more telling error (a timeout over "no data").
    const errs = [v4, v6].flatMap((s) => (s.status === "rejected" ? [s.reason as Error] : []));
    const timeout = errs.find((e) => timeoutCodes.has((e as NodeJS.ErrnoException).code ?? ""));
    throw timeout ?? errs[0] ?? Object.assign(new Error("no address"), { code: "ENODATA" });
  };
}

export function createResolver(options: ResolverOptions): Resolver {
  const lookup: Lookup =
    options.servers.length > 0 ? serversLookup(options.servers, options.timeoutMs) : systemLookup;
  const cache = new Map<string, Entry>();
  const inflight = new Map<string, Promise<readonly string[]>>();
  const maxEntries = options.maxEntries ?? 10_000;

  function run(name: string): Promise<readonly string[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error("timeout"), { code: "ETIMEOUT" })),
        options.timeoutMs,
      );
    });
    return Promise.race([lookup(name), timeout]).then(
      (answer) => {
        clearTimeout(timer);
        inflight.delete(name);
        const addresses = Object.freeze([...new Set(answer.addresses)]);
        if (addresses.length === 0) throw new ResolveError(name, "not-found", "ENODATA");
        const ttlMs = answer.ttlSeconds === undefined ? Infinity : answer.ttlSeconds * 1000;
        const keep = Math.min(options.cacheMs, ttlMs);
        if (keep > 0) {
          if (cache.size >= maxEntries) {
            const oldest = cache.keys().next();
            if (!oldest.done) cache.delete(oldest.value);
          }
          cache.set(name, { addresses, expires: Date.now() + keep });
        }
        publishResolve({
          name,
          ok: true,
          addresses,
          ttlSeconds: answer.ttlSeconds,
          error: undefined,
          stale: false,
        });
        return addresses;
      },
      (err: unknown) => {
        clearTimeout(timer);
        inflight.delete(name);
        const e =
          err instanceof ResolveError
            ? err
            : new ResolveError(
                name,
                classify((err as NodeJS.ErrnoException).code ?? ""),
                (err as NodeJS.ErrnoException).code ?? (err as Error).message,
              );
        publishResolve({
          name,
          ok: false,
          addresses: [],
          ttlSeconds: undefined,
          error: e.code,
          stale: false,
        });
        throw e;
      },
    );
  }

  function cached(name: string): readonly string[] | undefined {
    const hit = cache.get(name);
    if (hit === undefined) return undefined;
    if (hit.expires > Date.now()) return hit.addresses;
    cache.delete(name);
    return undefined;
  }

  return {
    cached,
    resolve(name) {
      const hit = cached(name);
      if (hit !== undefined) return Promise.resolve(hit);
      let p = inflight.get(name);
      if (p === undefined) {
        p = run(name);
        inflight.set(name, p);
      }
      return p;
    },
  };
}

// One DNS lookup of a target name: its addresses and how long the answer may be kept.
// c-ares (dns.Resolver) gives the records' TTLs; names it cannot find are retried through the
// system resolver (getaddrinfo: /etc/hosts and the search domains, e.g. Kubernetes'
// `svc.namespace` names), whose answers carry no TTL, when no servers were configured.
import dns from "node:dns";
import type { FamilyPreference, ResolverOptions } from "./forward-config.ts";

export interface Answer {
  /** IPv4 before IPv6 when both are used; each address once */
  readonly addresses: readonly string[];
  /** undefined: the source gave no TTL (system resolver) */
  readonly ttlSeconds: number | undefined;
}

export type LookupName = (name: string) => Promise<Answer>;

/** "no such name" and "no record of this type": answers, not failures of DNS itself. */
const notFound = new Set(["ENOTFOUND", "ENODATA", "NOTFOUND", "NODATA"]);

export class LookupError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "LookupError";
    this.code = code;
  }
}

type Records = { address: string; ttl: number }[];

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? "EOTHER";
}

/** A lookup function over `options`: its servers, query timeout and family preference. */
export function createLookup(options: ResolverOptions): LookupName {
  const resolver = new dns.promises.Resolver({ timeout: options.queryTimeoutMs, tries: 2 });
  if (options.servers !== undefined) resolver.setServers([...options.servers]);
  const useSystem = options.servers === undefined;
  const query = async (name: string, family: 4 | 6): Promise<Records> =>
    family === 4 ? resolver.resolve4(name, { ttl: true }) : resolver.resolve6(name, { ttl: true });
  return async (name) => {
    try {
      return await lookupByFamily(name, options.family, query);
    } catch (err) {
      if (useSystem && notFound.has(codeOf(err))) {
        const system = await lookupSystem(name, options.family).catch(() => undefined);
        if (system && system.addresses.length > 0) return system;
      }
      throw describe(name, err);
    }
  };
}

async function lookupByFamily(
  name: string,
  preference: FamilyPreference,
  query: (name: string, family: 4 | 6) => Promise<Records>,
): Promise<Answer> {
  if (preference === "any") {
    const [v4, v6] = await Promise.allSettled([query(name, 4), query(name, 6)]);
    const records = [
      ...(v4.status === "fulfilled" ? v4.value : []),
      ...(v6.status === "fulfilled" ? v6.value : []),
    ];
    if (records.length === 0) {
      // Report the more telling failure: a DNS error before "no such record".
      const errors = [v4, v6].flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
      throw errors.find((e) => !notFound.has(codeOf(e))) ?? errors[0] ?? noData();
    }
    return answerOf(records);
  }
  const [first, second]: [4 | 6, 4 | 6] = preference === "prefer-ipv4" ? [4, 6] : [6, 4];
  try {
    const records = await query(name, first);
    if (records.length > 0) return answerOf(records);
  } catch (err) {
    // A timeout or SERVFAIL on the preferred family must not flip the name to the other one.
    if (!notFound.has(codeOf(err))) throw err;
  }
  const records = await query(name, second);
  if (records.length === 0) throw noData();
  return answerOf(records);
}

function noData(): NodeJS.ErrnoException {
  return Object.assign(new Error("no address records"), { code: "ENODATA" });
}

function answerOf(records: Records): Answer {
  const addresses = [...new Set(records.map((r) => r.address))];
  const ttl = Math.min(...records.map((r) => r.ttl));
  return { addresses, ttlSeconds: ttl };
}

async function lookupSystem(name: string, preference: FamilyPreference): Promise<Answer> {
  const all = await dns.promises.lookup(name, { all: true, order: "ipv4first" });
  const v4 = all.filter((a) => a.family === 4).map((a) => a.address);
  const v6 = all.filter((a) => a.family === 6).map((a) => a.address);
  const addresses =
    preference === "any"
      ? [...v4, ...v6]
      : preference === "prefer-ipv4"
        ? v4.length > 0
          ? v4
          : v6
        : v6.length > 0
          ? v6
          : v4;
  return { addresses: [...new Set(addresses)], ttlSeconds: undefined };
}

const explanations: Record<string, string> = {
  ENOTFOUND: "no such name (NXDOMAIN)",
  ENODATA: "the name has no address records",
  ETIMEOUT: "no answer from the DNS servers (timeout)",
  ECONNREFUSED: "the DNS servers refused the connection",
  ESERVFAIL: "the DNS server failed (SERVFAIL)",
  EREFUSED: "the DNS server refused the query",
  EBADRESP: "bad answer from the DNS server",
};

function describe(name: string, err: unknown): LookupError {
  const code = codeOf(err);
  const text = explanations[code] ?? (err as Error).message;
  return new LookupError(code, `${name}: ${text}`);
}

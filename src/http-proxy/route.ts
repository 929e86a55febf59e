// From a parsed target to the checked addresses to dial, or to a refusal: decide on the name,
// resolve it once, decide on the name with every address it resolved to. Shared by forwarded
// requests and CONNECT tunnels. The fast path (an address literal, or a name with a reusable
// answer) completes synchronously: no promise per request.
import { ResolveError } from "../net/resolver.ts";
import { channels, publishDecision, publishUpstreamError } from "../observe/events.ts";
import { decide, decideName, type Target } from "../policy/decide.ts";
import type { Decision } from "../policy/decision.ts";
import type { PolicyState, ProxyContext } from "./proxy-context.ts";
import { deniedReject, resolveReject, type Reject } from "./reject.ts";

export type RouteOutcome =
  | { readonly ok: true; readonly addresses: readonly string[]; readonly decision: Decision }
  | { readonly ok: false; readonly reject: Reject; readonly decision: Decision | undefined };

/** Who is asking, for the decision event. */
export interface RouteRequest {
  readonly client: string;
  /** the destination as asked, "host:port" */
  readonly destination: string;
  /** the exchange gave up (client gone): drop the outcome */
  readonly done: boolean;
}

function settle(
  ctx: ProxyContext,
  ps: PolicyState,
  req: RouteRequest,
  decision: Decision,
  addresses: readonly string[],
): RouteOutcome {
  const idx = decision.rule === undefined ? undefined : ps.ruleIndex.get(decision.rule);
  const slot = idx ?? ps.hits.length - 1;
  ps.hits[slot] = (ps.hits[slot] ?? 0) + 1;
  const deny = decision.action === "deny";
  const audit = deny && ctx.options.audit;
  if (deny) ctx.totals.denied++;
  if (audit) ctx.totals.audited++;
  if (channels.decision.hasSubscribers) {
    publishDecision({
      mode: "http-proxy",
      client: req.client,
      destination: req.destination,
      address: decision.address ?? addresses[0],
      action: deny && !audit ? "deny" : "allow",
      reason: decision.reason,
      ruleLine: decision.rule?.line,
      audit,
    });
  }
  if (deny && !audit) {
    return { ok: false, reject: deniedReject(`"${req.destination}"`, decision), decision };
  }
  return { ok: true, addresses, decision };
}

/**
 * Decides on `target` under the policy snapshot `ps` and calls `done` once with the outcome,
 * synchronously when nothing has to be looked up.
 */
export function route(
  ctx: ProxyContext,
  ps: PolicyState,
  req: RouteRequest,
  target: Target,
  done: (outcome: RouteOutcome) => void,
): void {
  const policy = ps.policy;
  const host = target.host;
  if (host.kind === "address") {
    done(settle(ctx, ps, req, decide(policy, target), [host.address]));
    return;
  }
  const early = decideName(policy, target);
  if (early !== undefined) {
    done(settle(ctx, ps, req, early, []));
    return;
  }
  const resolver = ctx.options.resolver;
  const cached = resolver.cached(host.name);
  if (cached !== undefined) {
    done(settle(ctx, ps, req, decide(policy, target, cached), cached));
    return;
  }
  resolver.resolve(host.name).then(
    (addresses) => {
      if (!req.done) done(settle(ctx, ps, req, decide(policy, target, addresses), addresses));
    },
    (err: unknown) => {
      if (req.done) return;
      const e = err instanceof ResolveError ? err : undefined;
      const failure = e?.failure ?? "failed";
      const code = e?.code ?? String(err);
      publishUpstreamError({
        mode: "http-proxy",
        destination: req.destination,
        address: undefined,
        kind: "resolve-failed",
        message: code,
      });
      done({
        ok: false,
        reject: resolveReject(host.name, failure, code, ctx.options.resolveTimeoutMs),
        decision: undefined,
      });
    },
  );
}

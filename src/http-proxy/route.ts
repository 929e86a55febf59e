// From a parsed target to the checked addresses to dial, or to a refusal: decide on the name,
// resolve it once, decide on the name with every address it resolved to. Shared by forwarded
// requests and CONNECT tunnels. The fast path (an address literal, or a name with a reusable
// answer) completes synchronously: no promise per request.
import { ResolveError } from "../net/resolver.ts";
import {
  channels,
  publishDecision,
  publishUpstreamError,
  type DecisionEvent,
} from "../observe/events.ts";
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
  memo: RouteMemo | undefined,
): RouteOutcome {
  const idx = decision.rule === undefined ? undefined : ps.ruleIndex.get(decision.rule);
  const slot = idx ?? ps.hits.length - 1;
  ps.hits[slot] = (ps.hits[slot] ?? 0) + 1;
  const deny = decision.action === "deny";
  const audit = deny && ctx.options.audit;
  if (deny) ctx.totals.denied++;
  if (audit) ctx.totals.audited++;
  if (channels.decision.hasSubscribers) {
    const address = decision.address ?? addresses[0];
    // The same decision on a keep-alive connection is published as the same event object,
    // so that subscribers may keep what they derive from it (the log line's fields).
    const last = memo?.event;
    const event: DecisionEvent =
      last !== undefined &&
      memo?.eventDecision === decision &&
      last.client === req.client &&
      last.destination === req.destination &&
      last.address === address &&
      last.audit === audit
        ? last
        : {
            mode: "http-proxy",
            client: req.client,
            destination: req.destination,
            address,
            action: deny && !audit ? "deny" : "allow",
            reason: decision.reason,
            ruleLine: decision.rule?.line,
            audit,
          };
    if (memo !== undefined && event !== last) {
      memo.event = event;
      memo.eventDecision = decision;
    }
    publishDecision(event);
  }
  if (deny && !audit) {
    return { ok: false, reject: deniedReject(`"${req.destination}"`, decision), decision };
  }
  return { ok: true, addresses, decision };
}

/**
 * A client connection's last decision. Deciding is a pure function of the policy, the
 * canonical host, the port and (for a name) the answer it resolved to: while the next request
 * on the connection has the same ones (the same objects: the policy snapshot, the host the
 * connection's last target carried over, the resolver's cached answer), the decision is the
 * same and is taken over. It is still counted, logged and published per request.
 */
export class RouteMemo {
  policy: PolicyState["policy"] | undefined = undefined;
  host: Target["host"] | undefined = undefined;
  port = 0;
  connect = false;
  /** the answer decided on; undefined for an address, or a name decided on its own */
  addresses: readonly string[] | undefined = undefined;
  decision: Decision | undefined = undefined;
  /** the last decision event published, and the decision it was made of */
  event: DecisionEvent | undefined = undefined;
  eventDecision: Decision | undefined = undefined;

  /** The remembered decision when `target` under `policy` is what it was made for. */
  recall(policy: PolicyState["policy"], target: Target): Decision | undefined {
    return this.policy === policy &&
      this.host === target.host &&
      this.port === target.port &&
      this.connect === target.connect
      ? this.decision
      : undefined;
  }

  keep(
    policy: PolicyState["policy"],
    target: Target,
    addresses: readonly string[] | undefined,
    decision: Decision,
  ): Decision {
    this.policy = policy;
    this.host = target.host;
    this.port = target.port;
    this.connect = target.connect;
    this.addresses = addresses;
    this.decision = decision;
    return decision;
  }
}

/**
 * Decides on `target` under the policy snapshot `ps` and calls `done` once with the outcome,
 * synchronously when nothing has to be looked up. `memo`: the client connection's last
 * decision, taken over when it applies and replaced otherwise.
 */
export function route(
  ctx: ProxyContext,
  ps: PolicyState,
  req: RouteRequest,
  target: Target,
  done: (outcome: RouteOutcome) => void,
  memo?: RouteMemo,
): void {
  const policy = ps.policy;
  const host = target.host;
  const recalled = memo?.recall(policy, target);
  if (host.kind === "address") {
    let d = recalled;
    if (d === undefined) {
      d = decide(policy, target);
      memo?.keep(policy, target, undefined, d);
    }
    done(settle(ctx, ps, req, d, [host.address], memo));
    return;
  }
  // A name: a decision remembered without an answer was made on the name alone.
  if (recalled !== undefined && memo?.addresses === undefined) {
    done(settle(ctx, ps, req, recalled, [], memo));
    return;
  }
  // One remembered with an answer means the name alone decided nothing: no need to ask again.
  const early = recalled === undefined ? decideName(policy, target) : undefined;
  if (early !== undefined) {
    memo?.keep(policy, target, undefined, early);
    done(settle(ctx, ps, req, early, [], memo));
    return;
  }
  const resolver = ctx.options.resolver;
  const cached = resolver.cached(host.name);
  if (cached !== undefined) {
    const d =
      recalled !== undefined && memo?.addresses === cached
        ? recalled
        : decide(policy, target, cached);
    memo?.keep(policy, target, cached, d);
    done(settle(ctx, ps, req, d, cached, memo));
    return;
  }
  resolver.resolve(host.name).then(
    (addresses) => {
      if (req.done) return;
      const d = decide(policy, target, addresses);
      memo?.keep(policy, target, addresses, d);
      done(settle(ctx, ps, req, d, addresses, memo));
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

// `legacy` redirect mode for the daemon host: the network is set up once (prepare), the NAT
// rules are loaded at start and re-loaded, atomically, whenever EGRESS_DESTINATION changes
// (a ConfigMap file) or on SIGHUP. A new rule set the grammar or the kernel refuses leaves
// the old rules in place; the host logs why. Connections opened before a change keep their
// translation (the kernel's connection tracking holds it), so a reload never cuts them.
import { ConfigError } from "../config/config-error.ts";
import { checkRedirectFamilies, parseRedirectRules } from "../config/redirect-rules.ts";
import type { RedirectRule } from "../config/types.ts";
import type { ModeDefinition, Service, ServiceStatus } from "../observe/service.ts";
import type { NatBackend } from "./apply-nat.ts";
import { applyNat } from "./apply-nat.ts";
import type { RedirectDeps } from "./apply-redirect.ts";
import type { NatPlan, PlanInput } from "./plan.ts";
import { planRedirect } from "./plan.ts";
import { formatRedirectRule } from "../config/redirect-rules.ts";
import { readRuleHits } from "./rule-hits.ts";

/** A checked rule set and the NAT plan it makes. */
export interface CompiledRedirect {
  readonly rules: readonly RedirectRule[];
  readonly nat: NatPlan;
  readonly warnings: readonly string[];
}

/** What stays fixed while the router runs (changing it needs a restart). */
export type RedirectBase = Omit<PlanInput, "rules" | "nat"> & { readonly backend: NatBackend };

/** Pure: rule text → compiled rules; throws ConfigError with every problem. */
export function compileRedirect(base: RedirectBase, text: string): CompiledRedirect {
  const setting = base.rulesSetting ?? "EGRESS_DESTINATION";
  const parsed = parseRedirectRules(text, setting);
  const problems = [
    ...parsed.problems,
    ...checkRedirectFamilies(base.source, parsed.rules, setting),
  ];
  if (problems.length > 0) throw new ConfigError(problems);
  const plan = planRedirect({ ...base, rules: parsed.rules, nat: true });
  if (!plan.nat) throw new Error("a redirect plan without NAT");
  return Object.freeze({ rules: parsed.rules, nat: plan.nat, warnings: plan.warnings });
}

/** How often the per-rule connection counters are read for status(). */
export const HITS_REFRESH_MS = 5000;

class RedirectService implements Service<CompiledRedirect> {
  #current: CompiledRedirect;
  readonly #base: RedirectBase;
  readonly #deps: RedirectDeps;
  #hits = new Map<number, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(initial: CompiledRedirect, base: RedirectBase, deps: RedirectDeps) {
    this.#current = initial;
    this.#base = base;
    this.#deps = deps;
  }

  async start(): Promise<void> {
    await this.#load(this.#current);
    await this.refreshHits();
    this.#timer = setInterval(() => void this.refreshHits(), HITS_REFRESH_MS);
    this.#timer.unref();
  }

  async apply(config: CompiledRedirect): Promise<void> {
    await this.#load(config); // throws on failure: the kernel kept the old rules
    this.#current = config;
    await this.refreshHits();
  }

  /** Reads the kernel's per-rule counters; a failed read keeps the last values. */
  async refreshHits(): Promise<void> {
    try {
      this.#hits = await readRuleHits(this.#current.nat, this.#base.backend, this.#deps.runner);
    } catch {
      // counters are for the status page only; the next refresh tries again
    }
  }

  async #load(config: CompiledRedirect): Promise<void> {
    for (const w of config.warnings) this.#deps.log(`warning: ${w}`);
    await applyNat(config.nat, this.#base.backend, this.#deps.runner);
  }

  stop(): Promise<void> {
    clearInterval(this.#timer);
    // Nothing to drain: the kernel forwards, and open connections keep their translation.
    // The rules stay until the pod's network namespace goes away with the pod.
    return Promise.resolve();
  }

  status(): ServiceStatus {
    const nat = this.#current.nat;
    return {
      mode: "redirect",
      listeners: [],
      // open connections live in the kernel's connection tracking, not in this process
      activeConnections: 0,
      rules: this.#current.rules.map((r) => ({
        line: r.line,
        text: formatRedirectRule(r),
        hits: this.#hits.get(r.line) ?? 0,
      })),
      backend: this.#base.backend,
      source: nat.source,
      clusterInterface: nat.clusterInterface,
      egressInterface: nat.egressInterface,
      otherPorts: nat.refuseUnmapped ? "refused" : "fallback",
    };
  }
}

/** The ModeDefinition the daemon host runs for `legacy`. */
export function legacyModeDefinition(
  base: RedirectBase,
  deps: RedirectDeps,
): ModeDefinition<CompiledRedirect> {
  return {
    mode: "redirect",
    rulesSetting: base.rulesSetting ?? "EGRESS_DESTINATION",
    compile: (text) => compileRedirect(base, text),
    create: (config) => new RedirectService(config, base, deps),
  };
}

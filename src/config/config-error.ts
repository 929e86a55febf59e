// Configuration problems are values; a ConfigError carries all of them at once so `check`
// can report every problem and the router can refuse a reload with the full list.

/** Stable codes; docs/errors.md mirrors this list (a test keeps them in sync). */
export const problemCodes = [
  "source-invalid",
  "gateway-invalid",
  "mode-unknown",
  "rules-missing",
  "line-invalid",
  "line-has-tab",
  "line-has-cr",
  "fallback-not-last",
  "port-out-of-range",
  "port-duplicate",
  "wildcard-not-last",
  "destination-bad",
  "file-unreadable",
  "setting-invalid",
  "resource-invalid",
] as const;
export type ProblemCode = (typeof problemCodes)[number];

export interface ConfigProblem {
  readonly code: ProblemCode;
  /** the setting the problem is in, e.g. `EGRESS_DESTINATION` */
  readonly setting: string;
  /** 1-based line in the rule text, when the problem is on a line */
  readonly line?: number;
  /** the exact text the OpenShift image printed for this input, when it had one */
  readonly openshift?: string;
  /** our message: `<SETTING>[ line <n>]: Cannot <action> "<value>": <state>; <fix>` */
  readonly message: string;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    const first = problems[0];
    super(first ? (first.openshift ?? first.message) : "invalid configuration");
    this.name = "ConfigError";
    this.problems = problems;
  }
}

// Prints configuration problems to stderr. Every problem gets our message (setting, line,
// fix); the first OpenShift text among them is the LAST line, so scripts
// written for the original images still read the message they expect (spec/cli.md §3).
import type { ConfigProblem } from "../config/config-error.ts";

export function formatProblems(problems: readonly ConfigProblem[]): string[] {
  const lines = problems.map((p) => p.message);
  const first = problems.find((p) => p.openshift !== undefined);
  if (first?.openshift !== undefined) lines.push(first.openshift);
  return lines;
}

export function printProblems(problems: readonly ConfigProblem[]): void {
  process.stderr.write(
    formatProblems(problems)
      .map((l) => `${l}\n`)
      .join(""),
  );
}

// Privileged tests need root (network namespaces, nft). Without root they are skipped with a
// clear message, except in CI (CI=true), where a skip would hide a broken pipeline: there
// they fail.
import assert from "node:assert/strict";
import { egressLinkUnsupportedReason } from "../../src/lab/lab.ts";
import type { EgressLinkType } from "../../src/lab/topology.ts";
import { findProgram } from "../../src/redirect/command-runner.ts";

/** The reason to skip, or undefined when the tests can run. Throws in CI without root. */
export function privilegedSkipReason(): string | undefined {
  if (process.getuid?.() === 0) return undefined;
  const reason = "needs root (network namespaces and nft); run the tests as root";
  if (process.env["CI"] === "true") assert.fail(`privileged test in CI: ${reason}`);
  return reason;
}

/** Options for describe()/it(): skip with the reason when not root. */
export function privileged(): { skip: string | false } {
  const reason = privilegedSkipReason();
  return { skip: reason ?? false };
}

/**
 * Options for describe()/it() that also need programs beyond the usual ones (`make install`
 * installs them): skipped with the first one missing, failed in CI.
 */
export function privilegedNeeding(
  programs: readonly { readonly program: string; readonly debianPackage: string }[],
): { skip: string | false } {
  const missing = programs.find((p) => findProgram(p.program, process.env) === undefined);
  const reason =
    privilegedSkipReason() ??
    (missing === undefined
      ? undefined
      : `needs ${missing.program} (Debian package ${missing.debianPackage}; make install)`);
  if (reason !== undefined && process.env["CI"] === "true") assert.fail(`in CI: ${reason}`);
  return { skip: reason ?? false };
}

/**
 * Options for a describe() that runs over one egress interface type: skipped without root,
 * and skipped with the kernel's reason when it cannot make that type (no ipvlan built in).
 */
export function privilegedOver(link: EgressLinkType): { skip: string | false } {
  const reason = privilegedSkipReason() ?? egressLinkUnsupportedReason(link);
  return { skip: reason ?? false };
}

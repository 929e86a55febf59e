// A sub-command of bin/egress-router. Commands return an exit code; only main.ts exits.
import type { Env } from "../config/read-setting.ts";

export interface Command {
  readonly name: string;
  /** one line for the command list */
  readonly summary: string;
  /** the full `--help` text */
  readonly help: string;
  run(args: readonly string[], env: Env): Promise<number>;
}

/** An error whose message is already the one line the user should see. */
export class UsageError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = "UsageError";
    this.exitCode = exitCode;
  }
}

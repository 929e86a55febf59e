// A CommandRunner for unit tests: records every call and answers from a script, so the
// applier's decisions (what it runs, in which order, what it skips) can be checked without
// root. The real commands are exercised by the privileged tests under test/.
import type { CommandResult, CommandRunner, RunOptions } from "./command-runner.ts";
import { CommandError } from "./command-runner.ts";

export interface RecordedCall {
  readonly argv: readonly string[];
  readonly input: string | undefined;
}

export type Answer = Partial<Omit<CommandResult, "argv">>;

export class RecordingRunner implements CommandRunner {
  readonly calls: RecordedCall[] = [];
  readonly #answer: (argv: readonly string[]) => Answer | undefined;

  /** `answer` gives the result for a command; undefined means exit 0 with no output. */
  constructor(answer: (argv: readonly string[]) => Answer | undefined = () => undefined) {
    this.#answer = answer;
  }

  run(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    this.calls.push({ argv, input: options.input });
    const a = this.#answer(argv) ?? {};
    const result = { argv, code: a.code ?? 0, stdout: a.stdout ?? "", stderr: a.stderr ?? "" };
    const ok = options.okCodes ?? [0];
    if (!ok.includes(result.code)) {
      return Promise.reject(
        new CommandError(
          argv,
          result.code,
          `exit code ${result.code}, stderr "${result.stderr.trim()}"`,
          result.stderr,
        ),
      );
    }
    return Promise.resolve(result);
  }

  /** The calls as command lines, for compact assertions. */
  lines(): string[] {
    return this.calls.map((c) => c.argv.join(" "));
  }
}

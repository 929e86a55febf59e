// The sub-commands, in the order `--help` lists them. Each lives in its own file.
import type { Command } from "./command.ts";

export const commands: readonly Command[] = [];

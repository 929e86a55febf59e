// Command-line flags: every setting's flag twin (and `-file` twin for rule settings), from
// the catalogue, plus a command's own options. Unknown flags are usage errors.
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { settings, type SettingKey } from "../config/catalogue.ts";
import type { Flags } from "../config/read-setting.ts";
import { fileFlagName } from "../config/read-setting.ts";
import { UsageError } from "./command.ts";

export const allSettingKeys = Object.keys(settings) as SettingKey[];

export function settingFlagOptions(keys: readonly SettingKey[]): ParseArgsOptionsConfig {
  const options: ParseArgsOptionsConfig = {};
  for (const key of keys) {
    const spec = settings[key];
    options[spec.flag] = { type: spec.flagType };
    if (spec.fromFile) options[fileFlagName(spec)] = { type: "string" };
  }
  return options;
}

/** Help lines for the setting flags a command takes. */
export function settingFlagHelp(keys: readonly SettingKey[]): string {
  const rows: [string, string][] = [];
  for (const key of keys) {
    const spec = settings[key];
    const value = spec.flagType === "boolean" ? "" : " <value>";
    const dflt = spec.default === undefined ? "" : ` (default ${spec.default})`;
    rows.push([`--${spec.flag}${value}`, `${spec.env}: ${spec.summary}${dflt}`]);
    if (spec.fromFile)
      rows.push([
        `--${fileFlagName(spec)} <path>`,
        `${spec.env}_FILE: read ${spec.env} from a file`,
      ]);
  }
  const width = Math.max(...rows.map(([f]) => f.length));
  return rows.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`).join("\n");
}

export interface ParsedCommandArgs {
  readonly flags: Flags;
  readonly positionals: readonly string[];
}

export function parseCommandArgs(
  command: string,
  args: readonly string[],
  keys: readonly SettingKey[],
  own: ParseArgsOptionsConfig = {},
  allowPositionals = false,
): ParsedCommandArgs {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...settingFlagOptions(keys), ...own },
      allowPositionals,
      strict: true,
    });
    const flags: Record<string, string | boolean | undefined> = {};
    for (const [k, v] of Object.entries(values)) {
      if (typeof v === "string" || typeof v === "boolean") flags[k] = v;
    }
    return { flags, positionals };
  } catch (err) {
    throw new UsageError(
      `egress-router ${command}: ${(err as Error).message}; see egress-router ${command} --help`,
    );
  }
}

// Reads one setting from flags, environment or a file. Flags win over the environment; at
// one level, giving both the text and a file is an error (which one would the user mean?).
// Last before the default: `EGRESS_CONFIG_DIR/<VARIABLE>`, a ConfigMap mounted as a directory.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { SettingSpec } from "./catalogue.ts";
import type { ConfigProblem } from "./config-error.ts";
import { shown } from "./rule-lines.ts";

export type Env = Readonly<Record<string, string | undefined>>;
export type Flags = Readonly<Record<string, string | boolean | undefined>>;

export interface SettingValue {
  /** undefined: not set anywhere (and no default) */
  readonly value: string | undefined;
  /** where it came from: `--flag`, `ENV`, `--flag-file <path>`, `ENV_FILE=<path>`, `default` */
  readonly origin: string;
  /** the file the value was read from, for reload watchers */
  readonly file: string | undefined;
}

/** Runs a setting's own validator on a given value: a problem naming the setting and the fix. */
export function valueProblem(spec: SettingSpec, value: string): ConfigProblem | undefined {
  const state = spec.check?.(value);
  if (state === undefined) return undefined;
  return {
    code: "setting-invalid",
    setting: spec.env,
    message: `${spec.env}: Cannot use "${shown(value)}": ${state}`,
  };
}

export function fileEnvName(spec: SettingSpec): string {
  return `${spec.env}_FILE`;
}
export function fileFlagName(spec: SettingSpec): string {
  return `${spec.flag}-file`;
}

function flagString(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  if (v === undefined || v === false) return undefined;
  return v === true ? "1" : v;
}

/** Why a file could not be read, in words for a problem message. */
export function fileErrorState(err: unknown): string {
  const known: Record<string, string> = {
    ENOENT: "no such file",
    EACCES: "permission denied",
    EISDIR: "it is a directory",
  };
  return known[(err as NodeJS.ErrnoException).code ?? ""] ?? (err as Error).message;
}

/** Reads a rule file; returns its text or a problem naming the setting and the fix. */
export function readRuleFile(
  spec: SettingSpec,
  path: string,
  via: string,
): { text: string } | { problem: ConfigProblem } {
  try {
    return { text: readFileSync(path, "utf8") };
  } catch (err) {
    const state = fileErrorState(err);
    return {
      problem: {
        code: "file-unreadable",
        setting: spec.env,
        message: `${via}: Cannot read "${path}": ${state}; mount the file (e.g. the ConfigMap volume) or set ${spec.env} directly`,
      },
    };
  }
}

export function readSetting(
  spec: SettingSpec,
  env: Env,
  flags: Flags,
): { setting: SettingValue; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const levels: { text: [string, string | undefined]; file: [string, string | undefined] }[] = [
    {
      text: [`--${spec.flag}`, flagString(flags, spec.flag)],
      file: [
        `--${fileFlagName(spec)}`,
        spec.fromFile ? flagString(flags, fileFlagName(spec)) : undefined,
      ],
    },
    {
      text: [spec.env, env[spec.env]],
      file: [fileEnvName(spec), spec.fromFile ? env[fileEnvName(spec)] : undefined],
    },
  ];
  for (const { text, file } of levels) {
    const [textName, textValue] = text;
    const [fileName, fileValue] = file;
    if (textValue !== undefined && fileValue !== undefined && fileValue !== "") {
      problems.push({
        code: "setting-invalid",
        setting: spec.env,
        message: `${spec.env}: Cannot use both ${textName} and ${fileName}: they would compete; keep one of them`,
      });
    }
    if (fileValue !== undefined && fileValue !== "") {
      const read = readRuleFile(spec, fileValue, fileName);
      if ("problem" in read) {
        problems.push(read.problem);
        return { setting: { value: undefined, origin: fileName, file: fileValue }, problems };
      }
      return {
        setting: { value: read.text, origin: `${fileName} ${fileValue}`, file: fileValue },
        problems,
      };
    }
    if (textValue !== undefined) {
      return { setting: { value: textValue, origin: textName, file: undefined }, problems };
    }
  }
  const dirFlag = flagString(flags, "config-dir");
  const dir = dirFlag ?? env["EGRESS_CONFIG_DIR"];
  if (dir !== undefined && dir !== "" && spec.env !== "EGRESS_CONFIG_DIR") {
    const path = join(dir, spec.env);
    if (existsSync(path)) {
      const via = `${dirFlag === undefined ? "EGRESS_CONFIG_DIR" : "--config-dir"} ${dir}`;
      const read = readRuleFile(spec, path, via);
      if ("problem" in read) {
        problems.push(read.problem);
        return { setting: { value: undefined, origin: via, file: path }, problems };
      }
      // a one-line setting written as a YAML block scalar ends with a newline: not part of it
      const value = spec.fromFile ? read.text : read.text.replace(/\r?\n$/, "");
      return { setting: { value, origin: `${via}/${spec.env}`, file: path }, problems };
    }
  }
  return {
    setting: {
      value: spec.default,
      origin: spec.default === undefined ? "unset" : "default",
      file: undefined,
    },
    problems,
  };
}

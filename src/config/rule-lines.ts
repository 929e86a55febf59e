import type { ConfigProblem } from "./config-error.ts";

// The line discipline the three OpenShift grammars share (spec/openshift-compat.md):
// split into lines, trim spaces and tabs at both ends, skip blank lines and whole-line
// comments, split fields on runs of spaces. A tab between fields or a CR (Windows line
// endings) makes the line invalid; we find out which so the message can say so.

export interface RuleLine {
  /** 1-based line number in the rule text */
  readonly line: number;
  /** the line trimmed of leading/trailing spaces and tabs (what OpenShift's messages quote) */
  readonly text: string;
  /** the fields, split on runs of spaces */
  readonly fields: readonly string[];
  /** a tab inside the line: the fields are not separated as the grammar requires */
  readonly hasTab: boolean;
  /** a CR inside the line: the text came from a file with Windows (CRLF) line endings */
  readonly hasCR: boolean;
}

const edge = /^[ \t]+|[ \t]+$/g;

export function ruleLines(text: string): RuleLine[] {
  const out: RuleLine[] = [];
  const raw = text.split("\n");
  for (let i = 0; i < raw.length; i++) {
    const trimmed = (raw[i] ?? "").replace(edge, "");
    // Whitespace-only lines (a lone CR too) are blank, as the originals' [[:space:]]* saw them.
    if (/^\s*$/.test(trimmed) || trimmed.startsWith("#")) continue;
    out.push({
      line: i + 1,
      text: trimmed,
      fields: trimmed.split(/ +/),
      hasTab: trimmed.includes("\t"),
      hasCR: trimmed.includes("\r"),
    });
  }
  return out;
}

/** Renders a value for our messages: control characters made visible, long values cut. */
export function shown(value: string): string {
  const visible = value.replace(/\t/g, "\\t").replace(/\r/g, "\\r");
  return visible.length > 120 ? `${visible.slice(0, 117)}...` : visible;
}

/** Why a line that matches no form is invalid, for the fix part of our message. */
export function lineShapeHint(l: RuleLine, expected: string): string {
  if (l.hasCR) {
    return `the line ends in a carriage return (Windows line endings); save the file with Unix (LF) line endings, e.g. dos2unix`;
  }
  if (l.hasTab) {
    return `a tab separates the fields; separate fields with spaces only (YAML block scalars often carry tabs)`;
  }
  if (/ #/.test(l.text)) {
    return `comments must be on a line of their own; move "${shown(l.text.slice(l.text.indexOf(" #") + 1))}" to its own line`;
  }
  return `expected ${expected}`;
}

/** Ports are decimal digits (a leading zero does not mean octal) in 1..65535. */
export function parsePort(field: string): number | undefined {
  if (!/^\d+$/.test(field)) return undefined;
  const n = field.length > 6 ? Infinity : Number(field);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * Range-checks the port fields of a line (local first, then remote, as the originals did),
 * adding a problem for each out-of-range one. Returns the ports, or undefined if any failed.
 */
export function checkPorts(
  setting: string,
  line: number,
  ports: readonly (readonly [which: string, text: string | undefined])[],
  problems: ConfigProblem[],
): (number | undefined)[] | undefined {
  let ok = true;
  const values = ports.map(([which, text]) => {
    if (text === undefined) return undefined;
    const value = parsePort(text);
    if (value === undefined) {
      ok = false;
      problems.push({
        code: "port-out-of-range",
        setting,
        line,
        openshift: `Invalid port: ${text}, must be in the range 1 to 65535`,
        message: `${setting} line ${line}: Cannot use ${which} ${shown(text)}: ports are 1 to 65535; pick a port in that range`,
      });
    }
    return value;
  });
  return ok ? values : undefined;
}

/** The problem for a rule setting that is unset or empty. */
export function rulesMissing(setting: string, openshift: string, message: string): ConfigProblem {
  return { code: "rules-missing", setting, openshift, message: `${setting}: ${message}` };
}

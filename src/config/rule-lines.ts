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

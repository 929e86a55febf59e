// Reads fields of a YAML document with their paths and lines, so that every problem says where
// it is: `spec.redirect.redirectRules[1].port line 14: Cannot …`. Generic over the document;
// the resource's own rules (which fields exist, what they mean) are the caller's.
import type { Document, LineCounter } from "yaml";
import type { ConfigProblem } from "../config/config-error.ts";
import { shown } from "../config/rule-lines.ts";

export type Path = readonly (string | number)[];

export function pathText(path: Path): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out === "" ? "(document)" : out;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (v === null || v === undefined) return "empty";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

export class FieldReader {
  readonly problems: ConfigProblem[] = [];
  private readonly doc: Document;
  private readonly lines: LineCounter;
  /** the fields each object may have, by schema key (`""` for the top, `spec.addresses[]` …) */
  private readonly knownFields: Readonly<Record<string, readonly string[]>>;
  /** the resource, for messages: "an EgressRouter" */
  private readonly what: string;
  constructor(
    doc: Document,
    lines: LineCounter,
    knownFields: Readonly<Record<string, readonly string[]>>,
    what: string,
  ) {
    this.doc = doc;
    this.lines = lines;
    this.knownFields = knownFields;
    this.what = what;
  }

  lineOf(path: Path): number | undefined {
    for (let n = path.length; n >= 0; n--) {
      const node: unknown = n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | null)?.range;
      if (range) return this.lines.linePos(range[0]).line;
    }
    return undefined;
  }

  problem(path: Path, message: string): void {
    const setting = pathText(path);
    const line = this.lineOf(path);
    this.problems.push({
      code: "resource-invalid",
      setting,
      ...(line === undefined ? {} : { line }),
      message: `${setting}${line === undefined ? "" : ` line ${line}`}: ${message}`,
    });
  }

  /** Reports fields the CRD does not have (the API server would drop them without a word). */
  unknownFields(path: Path, schemaKey: string, obj: Record<string, unknown>): void {
    const known = this.knownFields[schemaKey] ?? [];
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
      this.problem(
        [...path, key],
        `Cannot use field "${shown(key)}": ${this.what} has no such field ${schemaKey === "" ? "at the top" : `in ${schemaKey}`} (the API server would drop it silently); ${near ? `did you mean "${near}"?` : `use one of ${known.join(", ")}, or remove it`}`,
      );
    }
  }

  mapping(path: Path, v: unknown, what: string): Record<string, unknown> | undefined {
    if (isObject(v)) return v;
    this.problem(
      path,
      `Cannot read ${what}: it is ${describe(v)}, not a mapping; write it as "key: value" lines`,
    );
    return undefined;
  }

  string(path: Path, v: unknown, what: string, example: string): string | undefined {
    if (typeof v === "string") return v;
    this.problem(
      path,
      v === undefined || v === null
        ? `Cannot ${what}: the field is missing; add it, e.g. ${example}`
        : `Cannot ${what} from ${describe(v)}: it must be a string; write e.g. ${example}`,
    );
    return undefined;
  }

  /** `what` is the action with the value's noun, e.g. "listen on port". */
  port(path: Path, v: unknown, what: string): number | undefined {
    if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535) return v;
    if (v === undefined || v === null) {
      this.problem(path, `Cannot ${what}: the field is missing; add it, a number from 1 to 65535`);
    } else if (typeof v === "string") {
      this.problem(
        path,
        `Cannot ${what} "${shown(v)}": it is a quoted string and the API server takes a number; drop the quotes`,
      );
    } else {
      this.problem(
        path,
        `Cannot ${what} "${shown(String(JSON.stringify(v)))}": not a port; use a number from 1 to 65535`,
      );
    }
    return undefined;
  }
}

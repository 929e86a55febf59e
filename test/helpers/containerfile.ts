// Reads a Containerfile into its instructions (line continuations joined, comments dropped),
// so tests can check what the image build copies, installs and runs without a container engine.

export interface Instruction {
  readonly keyword: string; // upper case: FROM, RUN, COPY, …
  readonly args: string; // the rest, continuations joined with a space
  readonly line: number; // 1-based line where the instruction starts
}

export function parseContainerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { keyword: string; parts: string[]; line: number } | undefined;
  text.split("\n").forEach((raw, i) => {
    const trimmed = raw.trim();
    if (pending === undefined && (trimmed === "" || trimmed.startsWith("#"))) return;
    if (pending !== undefined && trimmed.startsWith("#")) return; // comment inside a continuation
    const continues = trimmed.endsWith("\\");
    const body = continues ? trimmed.slice(0, -1).trim() : trimmed;
    if (pending === undefined) {
      const m = /^(\S+)\s*(.*)$/.exec(body);
      pending = { keyword: (m?.[1] ?? "").toUpperCase(), parts: [m?.[2] ?? ""], line: i + 1 };
    } else if (body !== "") pending.parts.push(body);
    if (!continues) {
      out.push({
        keyword: pending.keyword,
        args: pending.parts.join(" ").trim(),
        line: pending.line,
      });
      pending = undefined;
    }
  });
  if (pending !== undefined)
    throw new Error(`Containerfile line ${pending.line}: continuation never ends`);
  return out;
}

export interface Stage {
  readonly name: string | undefined;
  readonly from: string;
  readonly instructions: readonly Instruction[];
}

/** Splits instructions into build stages (instructions before the first FROM are global ARGs). */
export function stages(instructions: readonly Instruction[]): Stage[] {
  const out: { name: string | undefined; from: string; instructions: Instruction[] }[] = [];
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      out.push({ name: m?.[2], from: m?.[1] ?? ins.args, instructions: [] });
    } else out[out.length - 1]?.instructions.push(ins);
  }
  return out;
}

export interface Copy {
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly dest: string;
  readonly line: number;
}

export function copyOf(ins: Instruction): Copy {
  const words = ins.args.split(/\s+/);
  let from: string | undefined;
  const rest: string[] = [];
  for (const w of words) {
    if (w.startsWith("--from=")) from = w.slice("--from=".length);
    else if (!w.startsWith("--")) rest.push(w);
  }
  const dest = rest.pop() ?? "";
  return { from, sources: rest, dest, line: ins.line };
}

/** Packages named after `apt-get install` in a RUN (options and the next `&&` excluded). */
export function aptPackages(run: string): string[] {
  const out: string[] = [];
  for (const m of run.matchAll(/apt-get install((?:\s+[^&|;]+?)?)(?=\s*(?:&&|\|\||;|$))/g)) {
    for (const w of (m[1] ?? "").trim().split(/\s+/))
      if (w !== "" && !w.startsWith("-")) out.push(w);
  }
  return out;
}

/** The exec-form ENTRYPOINT/CMD array. */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === "string"))
    throw new Error(`not an exec-form array: ${args}`);
  return parsed;
}

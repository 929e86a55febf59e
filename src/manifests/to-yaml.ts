// Multi-document YAML for `kubectl apply -f -`: keys in the order the builders wrote them,
// no line folding (long annotation values stay on one line), block scalars for rule text.
import { stringify } from "yaml";

export function toYaml(objects: readonly object[], header: readonly string[] = []): string {
  const comments = header.map((l) => `# ${l}\n`).join("");
  const docs = objects.map((o) => stringify(o, { lineWidth: 0, indentSeq: true }));
  return comments + docs.map((d) => `---\n${d}`).join("");
}

// Host names in rules: lower-case ASCII (IDN converted to punycode by node:url), no trailing
// dot, LDH labels of 1-63 characters. A name whose last label is all digits would be read
// as an IPv4 address by URL parsers ("1.2.3" is 1.2.0.3), so it is not a name.
import { domainToASCII } from "node:url";

const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** The canonical form of a host name, or undefined when it is not a valid name. */
export function canonicalHostName(text: string): string | undefined {
  if (text === "" || text.length > 254) return undefined;
  let name = text.endsWith(".") ? text.slice(0, -1) : text;
  if (/[^\x21-\x7e]/.test(name)) {
    // Non-ASCII: IDN. domainToASCII returns "" for what cannot be a domain.
    if (/[\s]/.test(name)) return undefined;
    name = domainToASCII(name);
    if (name === "" || name.endsWith(".")) return undefined;
  }
  name = name.toLowerCase();
  if (name.length > 253) return undefined;
  const labels = name.split(".");
  if (!labels.every((l) => label.test(l))) return undefined;
  if (/^\d+$/.test(labels[labels.length - 1] ?? "")) return undefined;
  return name;
}

// Parsers for the HTTP proxy's list-valued settings. Each returns the typed value or
// "<state>; <fix>" for the message `<SETTING>: Cannot use "<value>": <state>; <fix>`.
import { isIP, isIPv4, isIPv6 } from "node:net";
import type { PortRange } from "../policy/http-policy.ts";

/** `443, 8443, 10000-10100` (commas and/or spaces); empty: any port. */
export function parsePortList(text: string): readonly PortRange[] | string {
  const items = text.split(/[\s,]+/).filter((s) => s !== "");
  const out: PortRange[] = [];
  for (const item of items) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(item);
    const from = Number(m?.[1]);
    const to = m?.[2] === undefined ? from : Number(m[2]);
    if (!m || from < 1 || to > 65535 || from > to) {
      return `"${item}" is not a port or a range of ports; use ports 1-65535 and ranges low-high, e.g. 443,8443,10000-10100`;
    }
    out.push({ from, to });
  }
  return out;
}

/** `10.0.0.10, 10.0.0.11:5353, [2001:db8::53]:53` → the forms node's resolver takes. */
export function parseDnsServers(text: string): readonly string[] | string {
  const items = text.split(/[\s,]+/).filter((s) => s !== "");
  const out: string[] = [];
  for (const item of items) {
    let address = item;
    let port: string | undefined;
    const v6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(item);
    if (v6) {
      address = v6[1] ?? "";
      port = v6[2];
    } else if (!isIPv6(item) && item.includes(":")) {
      const i = item.lastIndexOf(":");
      address = item.slice(0, i);
      port = item.slice(i + 1);
    }
    const portOk = port === undefined || (/^\d{1,5}$/.test(port) && +port >= 1 && +port <= 65535);
    if (isIP(address) === 0 || !portOk || (v6 && !isIPv6(address))) {
      return `"${item}" is not a DNS server address; use an IP address with an optional port, e.g. 10.0.0.10, 10.0.0.10:5353 or [2001:db8::53]:53`;
    }
    const host = isIPv4(address) ? address : `[${address}]`;
    out.push(port === undefined ? address : `${host}:${port}`);
  }
  return out;
}

/** A whole number in [min, max]. */
export function parseCount(text: string, min: number, max: number): number | string {
  const n = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  return n >= min && n <= max ? n : `not a whole number from ${min} to ${max}`;
}

/** `auto` (returned as 0: one per usable CPU) or a whole number of worker processes. */
export function parseWorkers(text: string): number | string {
  if (text === "auto") return 0;
  const n = parseCount(text, 1, 256);
  return typeof n === "number" ? n : `${n}, or "auto" (one per CPU the process may use)`;
}

/** Audit mode switch: true/1/yes/on, false/0/no/off or empty. */
export function parseSwitch(text: string): boolean | string {
  const v = text.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["", "0", "false", "no", "off"].includes(v)) return false;
  return 'not a switch; use "true" or "false"';
}

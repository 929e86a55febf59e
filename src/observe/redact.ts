// Keeps credentials out of logs and the status page. Anything that may carry text a client
// sent (destinations, upstream error messages, problems quoting a rule line) goes through
// `redact` before it is written anywhere an operator or a log pipeline can read it.

const urlWithUserinfo = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi;
const urlQuery = /\b([a-z][a-z0-9+.-]*:\/\/[^\s?#]*)[?#][^\s"'<>]*/gi;
// `user:secret@host:443` without a scheme (a CONNECT target or a Host header someone abused)
const bareUserinfo = /(^|[\s"'(=])[^\s"'(=/@:]+:[^\s"'@/]*@(?=[^\s@]+)/g;
const authHeader =
  /\b((?:proxy-)?authorization\s*[:=]\s*)(?:basic|bearer|digest|negotiate)?\s*[^\s,;"']+/gi;

/**
 * Removes user info and query strings from URLs, and credentials from `user:pass@host`
 * targets and `Authorization:` text. Keeps the scheme, host, port and path.
 * @example redact("http://u:p@example.com/a?token=1") === "http://[redacted]@example.com/a?[redacted]"
 */
export function redact(text: string): string {
  if (!/[@?#]|authorization/i.test(text)) return text;
  return text
    .replace(urlWithUserinfo, "$1[redacted]@")
    .replace(urlQuery, "$1?[redacted]")
    .replace(bareUserinfo, "$1[redacted]@")
    .replace(authHeader, "$1[redacted]");
}

/** `redact` for optional values. */
export function redactOptional(text: string | undefined): string | undefined {
  return text === undefined ? undefined : redact(text);
}

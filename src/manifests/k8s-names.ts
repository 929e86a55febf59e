// The API server's naming rules for what a user passes to `manifests`. The OpenAPI schema does
// not carry them (the server checks them in code), so we check them here, at the edge, and
// say which flag is wrong and how to fix it. Each check returns "<state>; <fix>" or undefined.

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const rfc1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const labelName = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** A Service name (RFC 1035 label): the strictest of the objects we name after the router. */
export function checkRouterName(v: string): string | undefined {
  if (v.length <= 63 && rfc1035Label.test(v)) return undefined;
  return 'not usable as a Kubernetes name (lower-case letters, digits and "-", starting with a letter, ending with a letter or digit, at most 63 characters: it names the Service and labels every object); use e.g. "egress-payments"';
}

export function checkNamespace(v: string): string | undefined {
  if (v.length <= 63 && dnsLabel.test(v)) return undefined;
  return 'not a namespace name (lower-case letters, digits and "-", at most 63 characters); use the namespace\'s name as `kubectl get namespaces` shows it';
}

function checkSubdomain(v: string): boolean {
  return v.length <= 253 && v.split(".").every((part) => part.length <= 63 && dnsLabel.test(part));
}

/** Names of ordinary objects such as Secrets (DNS subdomains). */
export function checkObjectName(v: string): string | undefined {
  if (checkSubdomain(v)) return undefined;
  return 'not a Kubernetes object name (lower-case letters, digits, "-" and ".", at most 253 characters)';
}

export function checkLabelKey(k: string): string | undefined {
  const slash = k.indexOf("/");
  const prefix = slash < 0 ? undefined : k.slice(0, slash);
  const name = slash < 0 ? k : k.slice(slash + 1);
  if ((prefix === undefined || checkSubdomain(prefix)) && name.length <= 63 && labelName.test(name))
    return undefined;
  return 'not a label key ([prefix/]name: a DNS prefix, then at most 63 letters, digits, "-", "_" or ".", starting and ending alphanumeric); use e.g. "team" or "example.com/team"';
}

export function checkLabelValue(v: string): string | undefined {
  if (v === "" || (v.length <= 63 && labelName.test(v))) return undefined;
  return 'not a label value (at most 63 letters, digits, "-", "_" or ".", starting and ending alphanumeric); use e.g. "payments"';
}

/** Kubernetes resource quantities (`100m`, `64Mi`, `1.5`, `2G`). */
export function checkQuantity(v: string): string | undefined {
  if (
    /^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.test(v) &&
    !/^[+]?0*(\.0*)?[a-zA-Z]*$/.test(v)
  )
    return undefined;
  return 'not a positive Kubernetes quantity; write e.g. "100m" or "0.5" for CPU and "64Mi" or "1Gi" for memory';
}

/** An image reference: `[registry/]path[:tag][@sha256:digest]`, no spaces, no upper case in the path. */
export function checkImage(v: string): string | undefined {
  const m =
    /^((?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-]+[a-z0-9]+|\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*)(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/.exec(
      v,
    );
  if (m) return undefined;
  return "not a container image reference; write it as [registry/]repository[:tag][@sha256:digest], e.g. registry.example.com/egress-router:0.1.0";
}

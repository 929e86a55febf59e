// Typed, frozen values produced by the config layer. Strings in, these out; nothing
// downstream parses configuration text again.

export type Family = 4 | 6;
export type Protocol = "tcp" | "udp" | "sctp";

/** `EGRESS_SOURCE`: the reserved source address, with the prefix length the interface gets. */
export interface SourceAddress {
  readonly address: string;
  readonly prefixLength: number;
  readonly family: Family;
}

/** One line of `EGRESS_DESTINATION` (redirect mode). `line` is 1-based in the rule text. */
export type RedirectRule =
  | {
      readonly kind: "port";
      readonly line: number;
      readonly localPort: number;
      readonly protocol: Protocol;
      readonly destination: string;
      readonly family: Family;
      /** undefined: the same port as `localPort` */
      readonly remotePort: number | undefined;
    }
  | {
      readonly kind: "fallback";
      readonly line: number;
      readonly destination: string;
      readonly family: Family;
    };

/** What an HTTP proxy rule line matches (before the allow/deny action is applied). */
export type HostMatch =
  | { readonly kind: "host"; readonly host: string } // exact name, lower-case ASCII (punycode), no trailing dot
  | { readonly kind: "domain"; readonly domain: string } // `*.example.com`: the domain and every sub-domain
  | { readonly kind: "address"; readonly address: string; readonly family: Family }
  | {
      readonly kind: "cidr";
      readonly network: string;
      readonly prefixLength: number;
      readonly family: Family;
    }
  | { readonly kind: "any" }; // `*`, only as the last rule lines

/** One line of `EGRESS_HTTP_PROXY_DESTINATION`. */
export interface HttpRule {
  readonly line: number;
  readonly action: "allow" | "deny";
  readonly match: HostMatch;
  /** the line as written (trimmed), for `explain`, logs and the 403 header */
  readonly text: string;
}

/** Where a DNS-proxy rule forwards to. */
export type ForwardTarget =
  | { readonly kind: "address"; readonly address: string; readonly family: Family }
  | { readonly kind: "name"; readonly name: string };

/** One line of `EGRESS_DNS_PROXY_DESTINATION`: a local TCP port forwarded to a target. */
export interface DnsProxyRule {
  readonly line: number;
  readonly localPort: number;
  readonly target: ForwardTarget;
  readonly remotePort: number;
  readonly text: string;
}

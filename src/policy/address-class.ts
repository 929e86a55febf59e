// Addresses that are the router itself or no real destination. A final `*` rule never opens
// them: a client of the egress router has no business reaching the router's own loopback
// services (its admin port, a sidecar) or link-local endpoints such as a cloud metadata
// service, and `0.0.0.0`/`::` reach the local host on Linux. An explicit address or range
// rule (`127.0.0.1`, `169.254.0.0/16`) still allows them.
import net from "node:net";

const local = new net.BlockList();
local.addSubnet("0.0.0.0", 8, "ipv4"); // "this network": 0.0.0.0 connects to the local host
local.addSubnet("127.0.0.0", 8, "ipv4");
local.addSubnet("169.254.0.0", 16, "ipv4");
local.addAddress("::", "ipv6");
local.addAddress("::1", "ipv6");
local.addSubnet("fe80::", 10, "ipv6");

/** True for loopback, unspecified and link-local addresses (IPv4-mapped forms included). */
export function isLocalAddress(address: string, family: 4 | 6): boolean {
  return local.check(address, family === 4 ? "ipv4" : "ipv6");
}

const nat64 = new net.BlockList();
nat64.addSubnet("64:ff9b::", 96, "ipv6");

/**
 * The IPv4 address embedded in a NAT64 well-known-prefix address (RFC 6052,
 * `64:ff9b::a.b.c.d`): on a network with NAT64 a connection to it reaches that IPv4
 * address, so IPv4 rules must see it too. `undefined` for any other address.
 */
export function nat64Embedded(address: string, family: 4 | 6): string | undefined {
  if (family !== 6 || !nat64.check(address, "ipv6")) return undefined;
  // node has validated and compressed the address; expand the "::" run to read the last
  // two 16-bit groups.
  const compressed = new net.SocketAddress({ address, family: "ipv6" }).address;
  const [left = "", right = ""] = compressed.split("::");
  const tail = compressed.includes("::") ? right.split(":") : left.split(":");
  const hi = tail.length >= 2 ? Number.parseInt(tail[tail.length - 2] || "0", 16) : 0;
  const lo = Number.parseInt(tail[tail.length - 1] || "0", 16);
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

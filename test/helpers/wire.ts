// What the LAN sees of the router's egress interface: MAC addresses on the wire, in the
// node uplink's address filter, and in the LAN bridge's forwarding table.
import type { Lab } from "../../src/lab/lab.ts";

/** The uplink of the node that the lab's egress interface hangs off, and its LAN bridge port. */
const NODE_UPLINK = "ens0";
const LAN_PORT_OF_NODE = "v-node";

interface FdbJson {
  readonly mac: string;
  readonly flags?: readonly string[];
  readonly state?: string;
}

async function linkMac(lab: Lab, role: "router" | "node", dev: string): Promise<string> {
  const out = (await lab.exec(role, ["ip", "-j", "link", "show", "dev", dev])).stdout;
  const mac = (JSON.parse(out) as { address?: string }[])[0]?.address;
  if (mac === undefined) throw new Error(`no MAC address on ${dev} in the ${role} namespace`);
  return mac;
}

/** Unicast: the group bit (lowest bit of the first octet) is clear. */
function isUnicast(mac: string): boolean {
  return (Number.parseInt(mac.slice(0, 2), 16) & 1) === 0;
}

export interface LinkMacs {
  /** the router's egress interface */
  readonly egress: string;
  /** the node's uplink (the macvlan/ipvlan parent) */
  readonly parent: string;
  /** extra unicast MACs the uplink was told to accept (its MAC filter), sorted */
  parentUnicastFilter(): Promise<string[]>;
  /** the MACs the LAN bridge learnt behind the node's port (dynamic entries), sorted */
  learntOnLan(): Promise<string[]>;
}

export async function linkMacs(lab: Lab): Promise<LinkMacs> {
  const egress = await linkMac(lab, "router", lab.topology.egressInterface);
  const parent = await linkMac(lab, "node", NODE_UPLINK);
  const fdb = async (role: "node" | "gateway", args: string[]) =>
    JSON.parse(
      (await lab.exec(role, ["bridge", "-j", "fdb", "show", ...args])).stdout,
    ) as FdbJson[];
  return {
    egress,
    parent,
    async parentUnicastFilter() {
      // `self` entries of a device are its unicast/multicast address lists; its own MAC is not one
      const entries = await fdb("node", ["dev", NODE_UPLINK]);
      return entries
        .filter((e) => (e.flags ?? []).includes("self") && isUnicast(e.mac) && e.mac !== parent)
        .map((e) => e.mac)
        .sort();
    },
    async learntOnLan() {
      const entries = await fdb("gateway", ["br", "lan0", "brport", LAN_PORT_OF_NODE]);
      return [...new Set(entries.filter((e) => e.state !== "permanent").map((e) => e.mac))].sort();
    },
  };
}

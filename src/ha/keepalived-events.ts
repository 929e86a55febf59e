// keepalived's notify FIFO lines, e.g. `INSTANCE "egress_router" MASTER 100`, as role
// changes. Pure. Lines about other instances, groups or states we do not act on are ignored.
import type { Role } from "./election.ts";

export interface KeepalivedEvent {
  readonly instance: string;
  /** keepalived's own state name */
  readonly state: string;
  readonly role: Role;
  readonly priority: number | undefined;
}

const ROLE_OF_STATE: Readonly<Record<string, Role>> = Object.freeze({
  MASTER: "holder",
  BACKUP: "standby",
  FAULT: "fault",
  STOP: "stopped",
});

/** Parses one FIFO line; undefined for lines that are not an instance's state change. */
export function parseKeepalivedEvent(line: string): KeepalivedEvent | undefined {
  const m = /^INSTANCE "([^"]+)" ([A-Z_]+)(?: (\d+))?$/.exec(line.trim());
  if (!m) return undefined;
  const [, instance = "", state = "", prio] = m;
  const role = ROLE_OF_STATE[state];
  if (role === undefined) return undefined;
  return { instance, state, role, priority: prio === undefined ? undefined : Number(prio) };
}

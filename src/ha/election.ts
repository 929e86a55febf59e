// The election contract: who holds the reserved source address. The router reacts to role
// changes (holder.ts) and never cares which engine decided. Today's engine is keepalived
// (VRRP on the egress LAN, keepalived-election.ts); a Kubernetes Lease engine can implement
// the same interface later (docs/ha.md compares the two).

/**
 * This replica's role. `holder`: elected, may hold the address. `standby`: healthy, waiting.
 * `fault`: cannot hold (a tracked link or the gateway is gone, or the engine failed).
 * `starting`: no decision yet. `stopped`: the engine is stopped (shutdown).
 */
export type Role = "starting" | "standby" | "holder" | "fault" | "stopped";
export const ROLES: readonly Role[] = Object.freeze([
  "starting",
  "standby",
  "holder",
  "fault",
  "stopped",
]);

export interface RoleChange {
  readonly role: Role;
  /** why, in a few words (the engine's own state name, "keepalived exited", ...) */
  readonly reason: string;
  /** performance.now() when the engine reported it */
  readonly at: number;
}

/** Why this replica asks to give the role up. Closed set: it goes into logs and metrics. */
export type StepDownReason =
  | "gateway-unreachable"
  | "address-lost"
  | "takeover-failed"
  /** another host answers for the source address: split-brain (split-brain.ts) */
  | "duplicate-address";

export interface Election {
  /** The engine's name for logs and the status page, e.g. "keepalived". */
  readonly engine: string;
  /**
   * True when the engine itself adds and removes the holder's addresses and announces them
   * (keepalived does, in C, before it reports the new role). A Lease engine would not: the
   * holder actions then add the address and announce it with arping/ndisc.
   */
  readonly managesAddresses: boolean;
  /** Starts the engine; role changes are reported to `onRole` from then on. */
  start(onRole: (change: RoleChange) => void): Promise<void>;
  /**
   * Marks this replica unfit (true) or fit again (false) to hold the address: a holder that
   * is unfit gives the role up at once, and an unfit standby is not elected.
   */
  setFault(reason: StepDownReason, fault: boolean): Promise<void>;
  /** Gives the role up and stops the engine (graceful handover: the peer takes over at once). */
  stop(): Promise<void>;
  /** Engine details for the status page (pids, restarts, last state). */
  status(): Record<string, unknown>;
}

// The log lines of active/standby routers: every message and every field, once.
// docs/metrics.md lists them beside the daemon's own (src/observe/log.ts); a test keeps the
// docs and both catalogues in sync. Lines carry `event: "ha"`.
import type { LogField } from "../observe/log.ts";

/** Fields HA lines carry besides those of the daemon's catalogue (reason, error, address, signal). */
export const haLogFields = {
  role: "Active/standby: the role a line is about (starting, standby, holder, fault, stopped).",
  from: "Active/standby: the role before a change.",
  to: "Active/standby: the role after a change.",
  ms: "Active/standby: how long a role change took, from the election's report to the end of its actions.",
  ok: "Active/standby: false when a role change's actions failed (`error` says why).",
  state: "Active/standby: keepalived's own state name (MASTER, BACKUP, FAULT, STOP).",
  priority: "Active/standby: the VRRP priority keepalived reported with its state.",
  pid: "Active/standby: a process id (a keepalived left over from an earlier run).",
  code: "Active/standby: keepalived's exit code.",
  restarts: "Active/standby: how many times keepalived was restarted.",
  keepalived: "Active/standby: one line of keepalived's own log (debug level).",
  gateway: "Active/standby: the gateway whose reachability changed.",
  detail: "Active/standby: what a check saw, in words.",
  peer: "Active/standby: the link-layer (MAC) address of another host answering for the source address.",
  since: "Active/standby: when another host was first seen answering for the source address.",
  action: "Active/standby: what this replica does about a second holder: standing-down or keeping.",
} as const;

export type HaLogField = keyof typeof haLogFields;
export type HaLogRecord = { readonly [K in HaLogField | LogField]?: unknown };

/** Every `msg` of HA lines: fixed lower-case phrases, variable data goes into fields. */
export const haLogMessages = {
  "role changed":
    "Active/standby: this replica's role changed and its actions are done (`from`, `to`, `ms`).",
  "role change failed":
    "Active/standby: a role change's actions failed (`error`); a failed takeover gives the role up for 5 s.",
  "keepalived state": "Active/standby: keepalived reported a state (`state`, `priority`).",
  keepalived: "Active/standby, debug level: one line of keepalived's own log (`keepalived`).",
  "keepalived could not be started": "Active/standby: starting keepalived failed (`error`).",
  "keepalived exited":
    "Active/standby: keepalived ended on its own (`code`, `signal`); the replica is in fault until it runs again.",
  "restarting keepalived": "Active/standby: keepalived starts again after it exited (`restarts`).",
  "keepalived did not stop in time": "Active/standby: keepalived was killed at shutdown.",
  "stopping a keepalived left by a previous run":
    "Active/standby: a keepalived of an earlier run of this router was still running (`pid`).",
  "cannot remove an address keepalived left":
    "Active/standby: after keepalived died, an address it held could not be removed (`address`, `error`).",
  "keepalived event FIFO failed":
    "Active/standby: the FIFO keepalived reports its states through failed (`error`).",
  "setpriv not found":
    "Active/standby: keepalived runs without a parent-death signal and outlives this process if it is killed.",
  "giving the role up":
    "Active/standby: this replica marks itself unfit to hold (`reason`: gateway-unreachable, address-lost, takeover-failed, duplicate-address).",
  "fit to hold again": "Active/standby: the reason to stay out is gone (`reason`).",
  "cannot change the fault state": "Active/standby: the fault file could not be written (`error`).",
  "cannot clear fault": "Active/standby: a timed fault could not be cleared (`error`).",
  "gateway gone":
    "Active/standby: the gateway did not answer ARP (IPv6: neighbour discovery) 3 times in a row (`gateway`, `detail`).",
  "gateway back":
    "Active/standby: the gateway answers ARP (IPv6: neighbour discovery) again (`gateway`, `detail`).",
  "source address lost while holding":
    "Active/standby: the holder's lease renewal found the source address gone (`error`).",
  "cannot announce an address":
    "Active/standby: a gratuitous ARP could not be sent (`address`, `error`).",
  "start-up clean-up incomplete":
    "Active/standby: what an earlier run left could not all be removed (`error`).",
  "handover incomplete":
    "Active/standby: at shutdown, the standby rules or the cluster-side address could not be put in place (`error`).",
  "second holder of the source address":
    "Active/standby: another host (`peer`) has answered for the source address since `since`, longer than a dying holder could: two holders (VRRP does not reach between them). `action` says whether this replica stands down or keeps the address.",
  "second holder gone":
    "Active/standby: another host (`peer`) that answered for the source address since `since` no longer does (a second holder stood down, or a killed holder's lease ran out); the holder announces the address again.",
  "VRRP heard again":
    "Active/standby: a replica that stood down for a second holder hears the virtual router's advertisements again: back as a standby.",
  "split-brain check unavailable":
    "Active/standby: the VRRP counter that tells a healed partition could not be set up (`error`); a replica that stood down waits until nobody else answers for the address.",
  "high availability failed":
    "Active/standby: keepalived cannot be kept running (`error`); the router exits 1.",
} as const;

export type HaLogMessage = keyof typeof haLogMessages;

export type HaLog = (
  level: "debug" | "info" | "warn" | "error",
  msg: HaLogMessage,
  fields?: HaLogRecord,
) => void;

// Data-path events crossing from a worker thread to the main thread, many at a time. A
// batch travels as one JSON string of arrays (each event's values in a fixed field order),
// which costs a fraction of structured-cloning one object per event: at thousands of
// connections a second this is a visible share of the main thread's work.
import type {
  ConnectionCloseEvent,
  ConnectionOpenEvent,
  ConnectLatencyEvent,
  UpstreamErrorEvent,
  UpstreamHealthEvent,
} from "../observe/events.ts";

/** The fields of each forwarded channel's events, in wire order (every field, none more). */
export const eventFields = {
  connectionOpen: ["mode", "listener", "client"] satisfies (keyof ConnectionOpenEvent)[],
  connectionClose: [
    "mode",
    "listener",
    "client",
    "destination",
    "address",
    "ruleLine",
    "bytesFromClient",
    "bytesToClient",
    "durationMs",
    "end",
  ] satisfies (keyof ConnectionCloseEvent)[],
  upstreamError: [
    "mode",
    "destination",
    "address",
    "kind",
    "message",
  ] satisfies (keyof UpstreamErrorEvent)[],
  connectLatency: ["mode", "seconds"] satisfies (keyof ConnectLatencyEvent)[],
  upstreamHealth: [
    "mode",
    "destination",
    "address",
    "up",
    "cause",
    "error",
    "retryAt",
  ] satisfies (keyof UpstreamHealthEvent)[],
} as const;

export type ForwardedChannel = keyof typeof eventFields;
export const forwardedChannels = Object.keys(eventFields) as ForwardedChannel[];

type Value = string | number | boolean | null;

/** Collects events; `take()` returns the batch as one string and starts a new one. */
export class EventBatch {
  #rows: Value[][] = [];

  get size(): number {
    return this.#rows.length;
  }

  add(channel: ForwardedChannel, event: object): void {
    const e = event as Record<string, unknown>;
    const row: Value[] = [forwardedChannels.indexOf(channel)];
    for (const f of eventFields[channel]) {
      const v = e[f];
      // Event fields are strings, numbers, booleans or undefined (never null): null marks undefined.
      row.push(v === undefined ? null : (v as Value));
    }
    this.#rows.push(row);
  }

  take(): string {
    const text = JSON.stringify(this.#rows);
    this.#rows = [];
    return text;
  }
}

/** The events of a batch, as the objects that were published in the worker. */
export function decodeEvents(text: string): [ForwardedChannel, Record<string, unknown>][] {
  const rows = JSON.parse(text) as Value[][];
  const out: [ForwardedChannel, Record<string, unknown>][] = [];
  for (const row of rows) {
    const channel = forwardedChannels[row[0] as number];
    if (channel === undefined) continue;
    const fields = eventFields[channel];
    const e: Record<string, unknown> = {};
    for (let i = 0; i < fields.length; i++) {
      const v = row[i + 1];
      e[fields[i] as string] = v === null ? undefined : v;
    }
    out.push([channel, e]);
  }
  return out;
}

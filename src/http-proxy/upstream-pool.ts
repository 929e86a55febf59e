// Idle upstream connections, by key ("generation|host:port": the policy generation, the
// canonical host and the port): a connection is only ever reused for the same host under the same policy that allowed the address it is
// connected to. Most recently used first; a bounded number per key; closed when idle too long
// (the proxy's sweeper calls sweep()).
import type { UpstreamConn } from "./upstream.ts";

/** An idle pooled connection is closed after this long: below the 5 s keep-alive timeout of
 * node, Apache and many others, so we rarely pick a connection the server is closing. */
export const POOL_IDLE_MS = 4_000;
/** idle connections kept per destination */
export const POOL_MAX_IDLE_PER_KEY = 256;

export class UpstreamPool {
  private readonly idle = new Map<string, UpstreamConn[]>();
  idleCount = 0;

  /** An idle connection for `key`, most recently used first, or undefined. */
  take(key: string): UpstreamConn | undefined {
    const list = this.idle.get(key);
    if (list === undefined) return undefined;
    for (;;) {
      const u = list.pop();
      if (u === undefined) {
        this.idle.delete(key);
        return undefined;
      }
      this.idleCount--;
      u.pooled = false;
      if (!u.socket.destroyed && !u.ending) return u;
      u.destroy();
    }
  }

  /** A new connection joins the pool's bookkeeping (it is in use, not idle). */
  adopt(u: UpstreamConn): void {
    u.pool = this;
  }

  put(u: UpstreamConn): void {
    let list = this.idle.get(u.key);
    if (list === undefined) {
      list = [];
      this.idle.set(u.key, list);
    }
    if (list.length >= POOL_MAX_IDLE_PER_KEY) {
      u.destroy();
      return;
    }
    u.pooled = true;
    list.push(u);
    this.idleCount++;
  }

  remove(u: UpstreamConn): void {
    if (!u.pooled) return;
    u.pooled = false;
    const list = this.idle.get(u.key);
    if (list === undefined) return;
    const i = list.indexOf(u);
    if (i !== -1) {
      list.splice(i, 1);
      this.idleCount--;
    }
    if (list.length === 0) this.idle.delete(u.key);
  }

  /** Closes connections idle for longer than POOL_IDLE_MS (the proxy's sweeper calls it). */
  sweep(now: number): void {
    for (const [key, list] of this.idle) {
      // oldest first: the most recently used are pushed at the end
      while (list.length > 0 && now - (list[0] as UpstreamConn).lastActivity > POOL_IDLE_MS) {
        const u = list.shift() as UpstreamConn;
        u.pooled = false;
        this.idleCount--;
        u.destroy();
      }
      if (list.length === 0) this.idle.delete(key);
    }
  }

  /** Closes idle connections whose key is not of `generation` (after a policy swap). */
  dropOtherGenerations(generation: number): void {
    const prefix = `${generation}|`;
    for (const [key, list] of this.idle) {
      if (key.startsWith(prefix)) continue;
      this.idle.delete(key);
      for (const u of list) {
        u.pooled = false;
        this.idleCount--;
        u.destroy();
      }
    }
  }

  closeAll(): void {
    for (const [key, list] of this.idle) {
      this.idle.delete(key);
      for (const u of list) {
        u.pooled = false;
        this.idleCount--;
        u.destroy();
      }
    }
  }
}

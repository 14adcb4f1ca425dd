import { scanServers } from '../connection/scan.js';
import type { RedkitContext } from '../context.js';
import type { SessionBackend } from './types.js';

/**
 * Sessions in Redis: one string per session at `<prefix>:session:<sid>` holding its JSON, with
 * a TTL (PX) from the cookie — every key expires by itself, so no index is needed. Single-key
 * commands only, so any Redis Cluster slot works; `entries`/`length`/`clear` SCAN every master.
 */
export class RedisSessionBackend implements SessionBackend {
  readonly #ctx: RedkitContext;
  readonly #prefix: string;
  readonly #pattern: string;

  constructor(ctx: RedkitContext) {
    this.#ctx = ctx;
    this.#prefix = `${ctx.keys.key('session', '')}`;
    this.#pattern = ctx.keys.pattern('session');
  }

  /** The Redis key of session `sid`. */
  key(sid: string): string {
    return this.#prefix + sid;
  }

  // get/set/touch run on every request: they use the client directly instead of
  // `connection.run()` (one promise less each); the store maps their errors with `toUnavailable`.
  get(sid: string): Promise<string | null> {
    const c = this.#ctx.connection.client;
    if (c === null || !this.#ctx.connection.isReady) return Promise.reject(this.#ctx.connection.unavailable());
    return c.get(this.#prefix + sid);
  }

  set(sid: string, json: string, ttlMs: number): Promise<void> {
    const c = this.#ctx.connection.client;
    if (c === null || !this.#ctx.connection.isReady) return Promise.reject(this.#ctx.connection.unavailable());
    return c.set(this.#prefix + sid, json, 'PX', Math.max(1, Math.ceil(ttlMs))) as Promise<unknown> as Promise<void>;
  }

  async setIfAbsent(sid: string, json: string, ttlMs: number): Promise<boolean> {
    return (await this.#ctx.connection.run((c) => c.set(this.#prefix + sid, json, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'))) === 'OK';
  }

  touch(sid: string, ttlMs: number): Promise<boolean> {
    const c = this.#ctx.connection.client;
    if (c === null || !this.#ctx.connection.isReady) return Promise.reject(this.#ctx.connection.unavailable());
    // PEXPIRE changes only the TTL: a touch racing a set from another request never overwrites its data.
    return c.pexpire(this.#prefix + sid, Math.max(1, Math.ceil(ttlMs))).then((n) => n === 1);
  }

  async destroy(sids: string[]): Promise<void> {
    if (sids.length === 0) return;
    // One key per call: keys of different sessions may sit in different cluster slots.
    await this.#ctx.connection.run((c) => Promise.all(sids.map((sid) => c.unlink(this.#prefix + sid))));
  }

  async entries(): Promise<Array<[string, string]>> {
    return this.#ctx.connection.run(async (c) => {
      const out: Array<[string, string]> = [];
      await scanServers(c, { pattern: this.#pattern }, async (keys) => {
        // GET per key: one SCAN batch spans many slots; corked, they still leave in one write.
        const values = await Promise.all(keys.map((k) => c.get(k)));
        values.forEach((json, i) => {
          if (json !== null) out.push([keys[i]!.slice(this.#prefix.length), json]);
        });
      });
      return out;
    });
  }

  async length(): Promise<number> {
    let n = 0;
    await this.#ctx.connection.run((c) =>
      scanServers(c, { pattern: this.#pattern }, async (keys) => {
        n += keys.length;
      }),
    );
    return n;
  }

  async clear(): Promise<number> {
    let n = 0;
    await this.#ctx.connection.run((c) =>
      scanServers(c, { pattern: this.#pattern }, async (keys) => {
        // Masters are scanned in parallel: read `n` only after the await.
        const removed = (await Promise.all(keys.map((k) => c.unlink(k)))).reduce((a, b) => a + b, 0);
        n += removed;
      }),
    );
    return n;
  }
}

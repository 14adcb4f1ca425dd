import type { RedkitContext } from '../context.js';
import { defineScripts } from '../connection/scripts.js';
import type { CacheStats } from './types.js';

/** How often an instance adds its changed counters to the shared totals (ms); nothing is sent while they do not change. */
export const DEPLOYMENT_STATS_FLUSH_MS = 5000;
/** The shared totals expire this long after the last instance reported (a deployment that stopped). */
const TOTALS_TTL_MS = 30 * 24 * 3600 * 1000;
/** The counters summed across instances. */
const FIELDS = ['hits', 'misses', 'staleServes', 'loads'] as const;
type Field = (typeof FIELDS)[number];

const scripts = defineScripts(import.meta.url, 'cache', {
  statsAdd: { file: 'stats-add-1.lua', keys: ['totalsKey'] },
});

/** One namespace's counters summed across every instance of the deployment. */
export interface DeploymentNamespaceStats {
  hits: number;
  misses: number;
  staleServes: number;
  loads: number;
  /** hits / (hits + misses), 0 when there were no reads. */
  hitRate: number;
}

/** `kit.cache.deploymentStats()`. */
export interface DeploymentCacheStats {
  /** `deployment`: every instance sharing this Redis and key prefix; `instance`: standalone, this process only. */
  scope: 'deployment' | 'instance';
  /** Sums over the namespaces. */
  hits: number;
  misses: number;
  hitRate: number;
  namespaces: Record<string, DeploymentNamespaceStats>;
}

const rate = (hits: number, misses: number) => (hits + misses > 0 ? hits / (hits + misses) : 0);

/**
 * Deployment-wide cache counters without idle cost. Each instance adds the deltas of its own
 * counters to one Redis hash every few seconds, and only when they changed (one script call);
 * readers add this instance's not-yet-sent deltas to the hash, so their own reads show at once.
 * Why not a scrape of every instance: instances do not know each other, and a Redis hash is
 * what they already share. Counts since the hash began: a Redis that lost its data starts over.
 */
export class DeploymentStats {
  readonly #ctx: RedkitContext;
  readonly #local: () => Record<string, CacheStats>;
  readonly #key: string;
  /** What was already added to the hash, per "namespace:field". */
  readonly #sent = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;

  constructor(ctx: RedkitContext, local: () => Record<string, CacheStats>) {
    this.#ctx = ctx;
    this.#local = local;
    this.#key = ctx.keys.key('cache', 'stats');
    if (ctx.config.mode === 'redis') {
      this.#timer = setInterval(() => void this.flush(), DEPLOYMENT_STATS_FLUSH_MS);
      this.#timer.unref();
    }
  }

  /** Field → delta not yet in the hash. */
  #pending(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [ns, stats] of Object.entries(this.#local())) {
      for (const f of FIELDS) {
        const field = `${ns}:${f}`;
        const delta = stats[f] - (this.#sent.get(field) ?? 0);
        if (delta !== 0) out.set(field, delta);
      }
    }
    return out;
  }

  /** Adds the changed counters to the hash; a failed add keeps them for the next one. @internal */
  flush(): Promise<void> {
    this.#flushing ??= this.#flushOnce().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    const pending = this.#pending();
    if (pending.size === 0 || !this.#ctx.connection.isReady) return;
    const args: Array<string | number> = [this.#key, TOTALS_TTL_MS];
    for (const [field, delta] of pending) args.push(field, delta);
    try {
      await this.#ctx.connection.run((c) => scripts.statsAdd(c, args as never));
    } catch {
      // Kept for the next add. After a timeout it may have been applied and then counts twice;
      // dropping it instead would lose every add that Redis refused or never received.
      return;
    }
    for (const [field, delta] of pending) this.#sent.set(field, (this.#sent.get(field) ?? 0) + delta);
  }

  /**
   * Counters of every instance (Redis), or of this process (standalone). Rejects with
   * RedisUnavailableError while Redis is unreachable: a per-instance figure then would pass for
   * the deployment's.
   */
  async read(): Promise<DeploymentCacheStats> {
    const totals = new Map<string, number>();
    let scope: DeploymentCacheStats['scope'] = 'instance';
    if (this.#ctx.config.mode === 'redis') {
      const hash = await this.#ctx.connection.run((c) => c.hgetall(this.#key));
      for (const [field, value] of Object.entries(hash)) totals.set(field, Number(value));
      for (const [field, delta] of this.#pending()) totals.set(field, (totals.get(field) ?? 0) + delta);
      scope = 'deployment';
    } else {
      for (const [ns, stats] of Object.entries(this.#local())) for (const f of FIELDS) totals.set(`${ns}:${f}`, stats[f]);
    }
    const namespaces: Record<string, DeploymentNamespaceStats> = {};
    for (const [field, value] of totals) {
      const at = field.lastIndexOf(':');
      const ns = field.slice(0, at);
      const f = field.slice(at + 1) as Field;
      if (!FIELDS.includes(f)) continue;
      namespaces[ns] ??= { hits: 0, misses: 0, staleServes: 0, loads: 0, hitRate: 0 };
      namespaces[ns][f] = value;
    }
    let hits = 0;
    let misses = 0;
    for (const s of Object.values(namespaces)) {
      s.hitRate = rate(s.hits, s.misses);
      hits += s.hits;
      misses += s.misses;
    }
    return { scope, hits, misses, hitRate: rate(hits, misses), namespaces };
  }

  /** Sends what is left (bounded by the command timeout), then stops. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#ctx.config.mode === 'redis') await this.flush().catch(() => undefined);
  }
}

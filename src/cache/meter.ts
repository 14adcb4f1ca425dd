// A cache namespace's counters and its hit / miss / load events, separate from the read and write paths that feed them.
import type { RedkitEvents } from '../metrics/events.js';
import type { CacheStats } from './types.js';

/** @internal Counts reads, loads and store errors of a namespace; emits `kit.on('hit' | 'miss' | 'load')`. */
export class CacheMeter {
  hits = 0;
  misses = 0;
  loads = 0;
  loadErrors = 0;
  staleServes = 0;
  l1Hits = 0;
  coalesced = 0;
  errors = 0;
  readonly #name: string;
  /** Checked before building a payload, so unused events cost a property read. */
  readonly #events: RedkitEvents;

  constructor(name: string, events: RedkitEvents) {
    this.#name = name;
    this.#events = events;
  }

  /** A fresh value served from `layer`. */
  hit(key: string, layer: 'l1' | 'l2'): void {
    this.hits++;
    if (layer === 'l1') this.l1Hits++;
    if (this.#events.wants.hit) this.#events.emit('hit', { namespace: this.#name, key, layer, stale: false });
  }

  /** A value in grace (or, with the store down, an L1 copy in its stale window) served from `layer`. */
  stale(key: string, layer: 'l1' | 'l2'): void {
    this.staleServes++;
    if (this.#events.wants.hit) this.#events.emit('hit', { namespace: this.#name, key, layer, stale: true });
  }

  miss(key: string): void {
    this.misses++;
    if (this.#events.wants.miss) this.#events.emit('miss', { namespace: this.#name, key });
  }

  /** A loader run starts: counted; returns its start time when a `load` listener wants it. */
  loadStarted(): number {
    this.loads++;
    return this.#events.wants.load ? performance.now() : 0;
  }

  loadEnded(key: string, started: number, ok: boolean): void {
    if (!ok) this.loadErrors++;
    if (this.#events.wants.load) this.#events.emit('load', { namespace: this.#name, key, durationMs: performance.now() - started, ok });
  }

  /** Counters since creation, with the hit rate. */
  stats(store: CacheStats['store']): CacheStats {
    const reads = this.hits + this.misses;
    return {
      namespace: this.#name,
      store,
      hits: this.hits,
      misses: this.misses,
      hitRate: reads === 0 ? 0 : this.hits / reads,
      loads: this.loads,
      loadErrors: this.loadErrors,
      staleServes: this.staleServes,
      l1Hits: this.l1Hits,
      coalesced: this.coalesced,
      errors: this.errors,
    };
  }
}

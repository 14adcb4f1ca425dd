import { EventEmitter } from 'node:events';
import type { AcquireReply, HolderInfo, LockBackend, LockRef } from './backend.js';

interface Slot {
  fence: number;
  expiresAt: number;
}
interface Waiter {
  token: string;
  ttlMs: number;
  deadline: number;
}
interface Entry {
  holders: Map<string, Slot>;
  waiters: Waiter[];
}

/**
 * The in-process lock store (standalone mode and the opt-in local fallback): the same protocol
 * as the Lua scripts — FIFO waiters, hand-off on release, fences floored by the clock — on
 * plain maps. It coordinates the callers of one process only.
 */
export class MemoryLockBackend implements LockBackend {
  readonly kind = 'memory' as const;
  readonly #entries = new Map<string, Entry>();
  readonly #wake = new EventEmitter();
  #fence = 0;
  readonly #now: () => number;

  /** `now` is injectable for tests about time; default `Date.now`. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#wake.setMaxListeners(0);
  }

  #id(ref: LockRef): string {
    return `${ref.kind}:${ref.name}`;
  }

  #entry(ref: LockRef): Entry {
    const id = this.#id(ref);
    let entry = this.#entries.get(id);
    if (!entry) {
      entry = { holders: new Map(), waiters: [] };
      this.#entries.set(id, entry);
    }
    return entry;
  }

  #gc(ref: LockRef, entry: Entry): void {
    if (entry.holders.size === 0 && entry.waiters.length === 0) this.#entries.delete(this.#id(ref));
  }

  // One process-wide counter floored by the clock (µs), like the Redis fence.
  #grant(entry: Entry, token: string, ttlMs: number, now: number): number {
    const fence = Math.max(this.#fence + 1, now * 1000);
    this.#fence = fence;
    entry.holders.set(token, { fence, expiresAt: now + ttlMs });
    return fence;
  }

  #purge(entry: Entry, now: number): void {
    for (const [token, slot] of entry.holders) if (slot.expiresAt <= now) entry.holders.delete(token);
  }

  #promote(ref: LockRef, entry: Entry, now: number, skip: string): void {
    while (entry.holders.size < ref.limit && entry.waiters.length > 0) {
      const head = entry.waiters.shift()!;
      if (head.deadline < now) continue;
      const fence = this.#grant(entry, head.token, head.ttlMs, now);
      if (head.token !== skip) {
        const id = this.#id(ref);
        // Delivered on the next tick, like a message: the releaser's call completes first.
        queueMicrotask(() => this.#wake.emit(id, head.token, fence));
      }
    }
  }

  #retry(entry: Entry, now: number, cap: number): number {
    let first = Infinity;
    for (const slot of entry.holders.values()) first = Math.min(first, slot.expiresAt);
    return first === Infinity ? 1 : Math.max(1, Math.min(cap, first - now + 1));
  }

  async acquire(ref: LockRef, token: string, ttlMs: number, waitMs: number): Promise<AcquireReply> {
    const now = this.#now();
    const entry = this.#entry(ref);
    this.#purge(entry, now);
    this.#promote(ref, entry, now, token);
    const mine = entry.holders.get(token);
    if (mine) {
      mine.expiresAt = now + ttlMs;
      return { status: 'granted', fence: mine.fence };
    }
    if (entry.holders.size < ref.limit && entry.waiters.length === 0) return { status: 'granted', fence: this.#grant(entry, token, ttlMs, now) };
    const retryMs = this.#retry(entry, now, ttlMs);
    if (waitMs <= 0) {
      this.#gc(ref, entry);
      return { status: 'busy', retryMs };
    }
    const queued = entry.waiters.find((w) => w.token === token);
    if (queued) queued.deadline = now + waitMs;
    else entry.waiters.push({ token, ttlMs, deadline: now + waitMs });
    return { status: 'queued', retryMs };
  }

  async release(ref: LockRef, token: string): Promise<boolean> {
    const now = this.#now();
    const entry = this.#entries.get(this.#id(ref));
    if (!entry) return false;
    const slot = entry.holders.get(token);
    entry.holders.delete(token);
    this.#purge(entry, now);
    this.#promote(ref, entry, now, '');
    this.#gc(ref, entry);
    return slot !== undefined && slot.expiresAt > now;
  }

  async extend(ref: LockRef, token: string, ttlMs: number): Promise<number | null> {
    const now = this.#now();
    const slot = this.#entries.get(this.#id(ref))?.holders.get(token);
    if (!slot || slot.expiresAt <= now) return null;
    slot.expiresAt = now + ttlMs;
    return slot.fence;
  }

  async cancel(ref: LockRef, token: string): Promise<void> {
    const now = this.#now();
    const entry = this.#entries.get(this.#id(ref));
    if (!entry) return;
    entry.waiters = entry.waiters.filter((w) => w.token !== token);
    entry.holders.delete(token);
    this.#purge(entry, now);
    this.#promote(ref, entry, now, '');
    this.#gc(ref, entry);
  }

  async holders(ref: LockRef): Promise<HolderInfo[]> {
    const now = this.#now();
    const entry = this.#entries.get(this.#id(ref));
    if (!entry) return [];
    return [...entry.holders]
      .filter(([, s]) => s.expiresAt > now)
      .map(([token, s]) => ({ token, fence: s.fence, remainingMs: s.expiresAt - now }))
      .sort((a, b) => a.fence - b.fence);
  }

  async watch(ref: LockRef, onWake: (token: string, fence: number) => void): Promise<() => void> {
    const id = this.#id(ref);
    this.#wake.on(id, onWake);
    return () => {
      this.#wake.off(id, onWake);
    };
  }

  onResync(): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    this.#wake.removeAllListeners();
  }
}

import { JobTransitionError } from '../errors.js';
import { canTransition, FINISHED, type JobBackend, type JobPatch, type JobRecord } from './types.js';

/**
 * Job records in this process, with the same TTL and lifecycle rules as Redis (expired records
 * vanish on access; no timers). Serves standalone mode, and keeps records while Redis is down.
 */
export class MemoryJobStore implements JobBackend {
  readonly #records = new Map<string, { record: JobRecord; expiresAt: number }>();
  readonly #now: () => number;
  #creates = 0;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  #live(id: string): JobRecord | null {
    const entry = this.#records.get(id);
    if (!entry) return null;
    if (entry.expiresAt <= this.#now()) {
      this.#records.delete(id);
      return null;
    }
    return entry.record;
  }

  async create(record: JobRecord, ttlSec: number): Promise<boolean> {
    // Expired records vanish on access; a sweep every 256 creates bounds the ones never read again.
    if (++this.#creates % 256 === 0) for (const id of [...this.#records.keys()]) this.#live(id);
    if (this.#live(record.id)) return false;
    this.#records.set(record.id, { record: structuredClone(record), expiresAt: this.#now() + ttlSec * 1000 });
    return true;
  }

  async get(id: string): Promise<JobRecord | null> {
    const record = this.#live(id);
    return record ? structuredClone(record) : null;
  }

  async update(id: string, patch: JobPatch, now: number, ttlSec: number): Promise<JobRecord | null> {
    const current = this.#live(id);
    if (!current) return null;
    const to = patch.status ?? current.status;
    if (!canTransition(current.status, to)) throw new JobTransitionError(id, current.status, to);
    const next: JobRecord = { ...current, ...structuredClone(patch), status: to, updatedAt: now };
    this.#records.set(id, { record: next, expiresAt: this.#now() + ttlSec * 1000 });
    return structuredClone(next);
  }

  async restore(record: JobRecord, ttlSec: number): Promise<boolean> {
    const current = this.#live(record.id);
    if (current && (FINISHED.has(current.status) || current.updatedAt > record.updatedAt)) return false;
    this.#records.set(record.id, { record: structuredClone(record), expiresAt: this.#now() + ttlSec * 1000 });
    return true;
  }

  async listUnfinished(): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    for (const id of [...this.#records.keys()]) {
      const record = this.#live(id);
      if (record && !FINISHED.has(record.status)) out.push(structuredClone(record));
    }
    return out;
  }

  /** Forgets a record (the write-back buffer drops it once Redis has it). */
  delete(id: string): void {
    this.#records.delete(id);
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedkitLockService } from 'redkit/nestjs';
import { APP_SETTINGS, type AppSettings } from '../settings.js';

/** What one rebuild did. */
export interface RebuildResult {
  /** The lock's fencing token: strictly increasing per rebuild, across instances. */
  fence: number;
  durationMs: number;
}

/**
 * A job that must never run twice at once across instances (seed 000's RedisLockService): the
 * rebuild runs under the `report-rebuild` lock; a second caller gets LockBusyError at once (reason
 * `busy`, or `restart-guard` for one lease after Redis restarted), and while Redis is down
 * RedisUnavailableError (never a false grant).
 */
@Injectable()
export class ReportJob {
  constructor(
    private readonly locks: RedkitLockService,
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
  ) {}

  /** Rebuilds the report holding the lock for up to `workMs`. @throws LockBusyError, RedisUnavailableError */
  rebuild(workMs = 200): Promise<RebuildResult> {
    return this.locks.using(
      'report-rebuild',
      async (signal, lock) => {
        const start = Date.now();
        // The lease outlives the work; the signal aborts the work if the lock were lost anyway.
        await sleep(workMs, undefined, { signal });
        return { fence: lock.fence, durationMs: Date.now() - start };
      },
      { ttl: this.settings.reportLockTtlMs },
    );
  }
}

import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Election } from 'redkit';
import { RedkitLeaderService } from 'redkit/nestjs';
import { APP_SETTINGS, type AppSettings } from '../settings.js';

/**
 * A leader-only scheduler (seed 000's RedisLeaderElectionService): every instance campaigns for
 * `cleanup-scheduler`; only the leader runs the cleanup, every `cleanupIntervalMs`. Leadership is
 * resigned on shutdown (RedkitLeaderService), so another instance takes over at once.
 */
@Injectable()
export class CleanupScheduler implements OnApplicationBootstrap {
  /** Cleanups this instance ran. */
  runs = 0;
  /** The leadership epochs under which this instance ran (fencing numbers). */
  readonly epochs: number[] = [];
  #election: Election | null = null;

  constructor(
    private readonly leader: RedkitLeaderService,
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
  ) {}

  onApplicationBootstrap(): void {
    this.#election = this.leader.runWhileLeader('cleanup-scheduler', (signal, epoch) => this.#loop(signal, epoch), { ttl: this.settings.leaderTtlMs });
  }

  /** True while this instance leads the scheduler. */
  get isLeader(): boolean {
    return this.#election?.isLeader ?? false;
  }

  async #loop(signal: AbortSignal, epoch: number): Promise<void> {
    this.epochs.push(epoch);
    while (!signal.aborted) {
      this.runs += 1; // the cleanup itself would go here (expire uploads, purge sessions…)
      try {
        await sleep(this.settings.cleanupIntervalMs, undefined, { signal });
      } catch {
        return; // leadership revoked or the app is shutting down
      }
    }
  }
}

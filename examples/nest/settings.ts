import { Module } from '@nestjs/common';
import type { RedkitModuleOptions } from 'redkit/nestjs';

/** Injection token of the app's settings (override it in tests with `overrideProvider`). */
export const APP_SETTINGS = 'APP_SETTINGS';

/** Everything the example reads from its environment. */
export interface AppSettings {
  /** redkit's options; empty means: read REDIS_URL / REDIS_HOST / … from the environment (none: standalone). */
  redkit: RedkitModuleOptions;
  /** Requests per minute per client on routes without their own limit. */
  defaultLimitPerMinute: number;
  /** How often the leader-only cleanup runs (ms). */
  cleanupIntervalMs: number;
  /** Leadership lease of the cleanup scheduler (ms): a dead leader is replaced within it. */
  leaderTtlMs: number;
  /** Lease of the report-rebuild lock (ms); after a Redis restart no grant for this long. */
  reportLockTtlMs: number;
}

/** Settings from `process.env`. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): AppSettings {
  return {
    redkit: {},
    defaultLimitPerMinute: Number(env.DEFAULT_LIMIT_PER_MINUTE ?? 100),
    cleanupIntervalMs: Number(env.CLEANUP_INTERVAL_MS ?? 60_000),
    leaderTtlMs: Number(env.LEADER_TTL_MS ?? 10_000),
    reportLockTtlMs: Number(env.REPORT_LOCK_TTL_MS ?? 10_000),
  };
}

/** Provides APP_SETTINGS. */
@Module({
  providers: [{ provide: APP_SETTINGS, useFactory: () => settingsFromEnv() }],
  exports: [APP_SETTINGS],
})
export class SettingsModule {}

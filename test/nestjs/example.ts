// Boots the example app (examples/nest) with @nestjs/testing, its settings overridden the way a
// user's own tests would: `overrideProvider(APP_SETTINGS)`.
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { silentLogger, type RedkitOptions } from '../../src/index.js';
import type { RedkitModuleOptions } from '../../src/nestjs/index.js';
import type { RedisServer } from '../helpers/redis-server.js';
import { AppModule } from '../../examples/nest/app.module.js';
import { APP_SETTINGS, type AppSettings } from '../../examples/nest/settings.js';
import { targetOptions } from '../helpers/target.js';

/** A running example app and its base URL (127.0.0.1). */
export interface ExampleApp {
  app: INestApplication;
  url: string;
}

/** redkit options for `server` with test-sized timeouts (the developer's REDIS_* env never leaks in). */
export function redisOptions(server: RedisServer, keyPrefix: string, instanceId: string): RedkitModuleOptions {
  return {
    ...targetOptions(server),
    keyPrefix,
    instanceId,
    connectTimeoutMs: 2000,
    commandTimeoutMs: 500,
    healthIntervalMs: 200,
    logger: silentLogger,
    env: {},
    backoff: { baseMs: 20, maxMs: 200 },
  } as RedkitOptions as RedkitModuleOptions;
}

/** Standalone options: nothing configured, an empty env. */
export function standaloneOptions(instanceId = 'solo'): RedkitModuleOptions {
  return { env: {}, logger: silentLogger, instanceId };
}

/** Boots the example with these redkit options and short scheduler timings; listens on a free port. */
export async function bootExample(redkit: RedkitModuleOptions, overrides: Partial<AppSettings> = {}): Promise<ExampleApp> {
  const settings: AppSettings = { redkit, defaultLimitPerMinute: 1000, cleanupIntervalMs: 100, leaderTtlMs: 1500, reportLockTtlMs: 1500, ...overrides };
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(APP_SETTINGS)
    .useValue(settings)
    .compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  return { app, url: await app.getUrl() };
}

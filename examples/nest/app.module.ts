import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { SkipThrottle, ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { RedkitModule, RedkitThrottlerStorage } from 'redkit/nestjs';
import { APP_SETTINGS, SettingsModule, type AppSettings } from './settings.js';
import { AuthCacheService } from './auth/auth-cache.service.js';
import { AuthController } from './auth/auth.controller.js';
import { GalleryCacheService } from './gallery/gallery-cache.service.js';
import { GalleryController } from './gallery/gallery.controller.js';
import { ReportJob } from './reports/report.job.js';
import { ReportsController } from './reports/reports.controller.js';
import { CleanupScheduler } from './scheduler/cleanup.scheduler.js';
import { SchedulerController } from './scheduler/scheduler.controller.js';
import { HealthController } from './health/health.controller.js';
import { RedisInfoService } from './system/redis-info.service.js';
import { SystemController } from './system/system.controller.js';

/**
 * The example app (seed 003's shape): one RedkitModule creates the only Redis client and is
 * global, so every service injects REDIS_CLIENT or a redkit service without importing it; the
 * throttler counts in Redis; `/api/health` serves seed 002's JSON. With no Redis configured it
 * runs standalone, in memory.
 */
@Module({
  imports: [
    SettingsModule,
    RedkitModule.forRootAsync({
      isGlobal: true,
      imports: [SettingsModule],
      inject: [APP_SETTINGS],
      useFactory: (settings: AppSettings) => settings.redkit,
      healthController: { path: 'api/health', decorators: [SkipThrottle()] },
      caches: { auth: { ttl: '5m' } },
    }),
    ThrottlerModule.forRootAsync({
      imports: [SettingsModule],
      inject: [APP_SETTINGS, RedkitThrottlerStorage],
      useFactory: (settings: AppSettings, storage: RedkitThrottlerStorage) => ({
        throttlers: [{ name: 'default', limit: settings.defaultLimitPerMinute, ttl: 60_000 }],
        storage,
      }),
    }),
    TerminusModule,
  ],
  controllers: [AuthController, GalleryController, ReportsController, SchedulerController, HealthController, SystemController],
  providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }, AuthCacheService, GalleryCacheService, ReportJob, CleanupScheduler, RedisInfoService],
})
export class AppModule {}

import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import { RedkitHealthIndicator } from 'redkit/nestjs';

/**
 * `GET /api/health/terminus`: the @nestjs/terminus check (200 `ok`, 503 `error` while Redis is
 * configured but down). The seed 002 JSON is served at `/api/health` by RedkitModule's own controller.
 */
@SkipThrottle()
@Controller('api/health/terminus')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly redis: RedkitHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.redis.isHealthy('redis')]);
  }
}

import 'reflect-metadata';
import { Controller, Get, HttpException, HttpStatus, Inject, Injectable, type Type } from '@nestjs/common';
import type { HealthReport, Redkit, RedkitMode } from '../kit.js';
import type { RedisHealth } from '../connection/index.js';
import { REDKIT } from './tokens.js';

/** `up`, `degraded` or `down`: the statuses `@nestjs/terminus` 12 understands. */
export type RedkitIndicatorStatus = 'up' | 'degraded' | 'down';

/** What the indicator reports under its key (terminus's `HealthIndicatorResult`). */
export type RedkitHealthIndicatorResult<Key extends string = 'redis'> = Record<
  Key,
  {
    status: RedkitIndicatorStatus;
    /** The connection's own verdict: `connected`, `disconnected` or `not_configured`. */
    redis: RedisHealth['status'];
    message: string;
    /** PING round trip in ms; null when not connected. */
    latency: number | null;
    mode: RedkitMode;
    /** When the current Redis status began (ISO 8601). */
    since: string;
  }
>;

/** Options of `RedkitHealthIndicator.isHealthy`. */
export interface RedkitHealthCheckOptions {
  /** What a configured-but-unreachable Redis counts as: `down` (default; terminus answers 503) or `degraded` (200, the app keeps serving). */
  whenDisconnected?: 'down' | 'degraded';
  /** What standalone mode (no Redis configured, by choice) counts as. Default `up`. */
  whenNotConfigured?: 'up' | 'degraded' | 'down';
}

/**
 * A `@nestjs/terminus` health indicator for Redis. It returns the same result object that
 * terminus's `HealthIndicatorService.check(key).up()/down()` builds (`{ [key]: { status, ... } }`)
 * and never throws, which terminus ≥ 10 reads as up/down; so it needs no import of
 * `@nestjs/terminus` and that package stays an optional peer.
 * Use it as `() => this.redis.isHealthy('redis')` in `HealthCheckService.check([...])`.
 */
@Injectable()
export class RedkitHealthIndicator {
  readonly #kit: Redkit;
  constructor(@Inject(REDKIT) kit: Redkit) {
    this.#kit = kit;
  }

  /** Checks Redis now (a PING when connected, bounded by the command timeout); `key` defaults to `redis`. */
  async isHealthy<const Key extends string = 'redis'>(key?: Key, options: RedkitHealthCheckOptions = {}): Promise<RedkitHealthIndicatorResult<Key>> {
    const health = await this.#kit.health();
    const status: RedkitIndicatorStatus =
      health.status === 'connected' ? 'up' : health.status === 'not_configured' ? (options.whenNotConfigured ?? 'up') : (options.whenDisconnected ?? 'down');
    const detail = { status, redis: health.status, message: health.message, latency: health.latency, mode: this.#kit.mode, since: health.since };
    return { [key ?? 'redis']: detail } as RedkitHealthIndicatorResult<Key>;
  }
}

/** Options of the ready-made health controller (`healthController` in `forRoot`). */
export interface RedkitHealthControllerOptions {
  /** Route path. Default `api/health`. */
  path?: string;
  /** Class decorators for the controller, e.g. `[SkipThrottle()]` or a guard. */
  decorators?: ClassDecorator[];
}

/**
 * Builds the controller that serves seed 002's `/api/health` JSON (`kit.healthReport()`): 200 when
 * healthy (connected, or standalone by choice), 503 with the same body when Redis is configured but down.
 */
export function createHealthController(options: RedkitHealthControllerOptions = {}): Type<unknown> {
  const path = options.path ?? 'api/health';

  @Controller(path)
  class RedkitHealthController {
    readonly #kit: Redkit;
    constructor(@Inject(REDKIT) kit: Redkit) {
      this.#kit = kit;
    }

    @Get()
    async health(): Promise<HealthReport> {
      const report = await this.#kit.healthReport();
      if (report.status !== 'healthy') throw new HttpException(report, HttpStatus.SERVICE_UNAVAILABLE);
      return report;
    }
  }

  const decorators = options.decorators ?? [];
  return decorators.length ? (Reflect.decorate(decorators, RedkitHealthController) as Type<unknown>) : RedkitHealthController;
}

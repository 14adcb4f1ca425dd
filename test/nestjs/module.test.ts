// RedkitModule's own API: forRoot / forRootAsync / forFeature, isGlobal, a given toolkit,
// @InjectCache, every capability service, and the module's shutdown.
import 'reflect-metadata';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Injectable, Module, Optional } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { randomPrefix, waitFor } from '../helpers/util.js';
import { ConfigError, isCluster, type Cache, type Redkit } from '../../src/index.js';
import {
  RedkitModule,
  REDIS_CLIENT,
  REDKIT,
  InjectCache,
  InjectRedis,
  InjectRedkit,
  getCacheToken,
  RedkitCacheService,
  RedkitLockService,
  RedkitLeaderService,
  RedkitRateLimitService,
  RedkitQueueService,
  RedkitJobsService,
  RedkitRealtimeService,
  RedkitHealthIndicator,
  type RedisClient,
  type RedkitOptionsFactory,
  type RedkitModuleOptions,
} from '../../src/nestjs/index.js';
import { redisOptions, standaloneOptions } from './example.js';
import type { HealthIndicatorFunction, HealthIndicatorResult } from '@nestjs/terminus';

// Compile-time proof that the indicator plugs into terminus 12's HealthCheckService.check([...])
// and that its result is terminus's HealthIndicatorResult (it does not import terminus itself).
const typeCheck: (i: RedkitHealthIndicator) => [HealthIndicatorFunction, Promise<HealthIndicatorResult<'redis'>>] = (i) => [
  () => i.isHealthy('redis'),
  i.isHealthy('redis'),
];
void typeCheck;

let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await stopRedis(server);
});

@Injectable()
class Consumer {
  constructor(
    @InjectCache('sessions') readonly sessions: Cache<{ id: string }>,
    @Optional() @InjectRedis() readonly redis: RedisClient | null,
    @InjectRedkit() readonly kit: Redkit,
  ) {}
}

@Module({ providers: [Consumer], exports: [Consumer] })
class FeatureModule {}

test('forRoot (not global): the importing module gets every provider; caches by @InjectCache; the kit closes on app.close()', async (t) => {
  @Module({
    imports: [RedkitModule.forRoot({ ...redisOptions(server, randomPrefix(), 'root-a'), caches: { sessions: { ttl: '1m' } } })],
    providers: [Consumer],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  t.after(() => app.close()); // a failed assertion must not leave the app (and the test process) running
  await app.init();
  const consumer = app.get(Consumer);
  const kit = app.get<Redkit>(REDKIT);
  assert.equal(consumer.kit, kit);
  assert.equal(consumer.redis, kit.redis);
  assert.equal(consumer.sessions, kit.cache.namespace('sessions'));
  await consumer.sessions.set('s1', { id: 'u1' });
  assert.deepEqual(await kit.redis!.exists(kit.keys.key('cache', 'sessions', 's1')), 1);

  // Every capability service works against this toolkit.
  const lock = await app.get(RedkitLockService).using('m', async (_signal, l) => l.fence, { restartGuard: 0 });
  assert.ok(lock > 0);
  const limiter = app.get(RedkitRateLimitService).limiter({ name: 'm', limit: 1, windowMs: 10_000 });
  assert.equal((await limiter.consume('k')).allowed, true);
  assert.equal((await limiter.consume('k')).allowed, false);
  const seen: unknown[] = [];
  const queues = app.get(RedkitQueueService);
  queues.worker('mail', async (job) => {
    seen.push(job.data);
  });
  await queues.queue('mail').add('send', { to: 'x' });
  await waitFor(() => seen.length === 1, 10_000, 'the job ran');
  const record = await app.get(RedkitJobsService).store.create({ kind: 'render', input: { n: 1 } });
  assert.equal((await app.get(RedkitJobsService).store.get(record.id))?.id, record.id);
  const messages: unknown[] = [];
  await app.get(RedkitRealtimeService).bus.subscribe('chat', (m) => {
    messages.push(m.data);
  });
  await app.get(RedkitRealtimeService).bus.publish('chat', { hi: 1 });
  await waitFor(() => messages.length === 1, 5000, 'bus message');
  assert.deepEqual(app.get(RedkitCacheService).stats().sessions?.namespace, 'sessions');
  const election = app.get(RedkitLeaderService).campaign('m', { ttl: 1000 });
  assert.equal(app.get(RedkitLeaderService).campaign('m'), election, 'one candidacy per role');
  await waitFor(() => app.get(RedkitLeaderService).isLeader('m'), 5000, 'elected');
  const health = await app.get(RedkitHealthIndicator).isHealthy('cache-redis');
  assert.deepEqual(Object.keys(health), ['cache-redis']);
  assert.equal(health['cache-redis'].status, 'up');
  assert.equal(health['cache-redis'].redis, 'connected');
  assert.equal(health['cache-redis'].mode, 'redis');
  assert.equal(typeof health['cache-redis'].latency, 'number');

  await app.close();
  // Shutdown resigned the candidacy (nobody leads) and closed the toolkit's connections.
  assert.equal(election.isLeader, false);
  // kit.close() resolves on QUIT's reply; the socket ends a moment later.
  await waitFor(() => clientClosed(kit), 2000, 'the client ended');
});

test('not global: a module that does not import RedkitModule cannot inject it; isGlobal: true makes it visible everywhere', async (t) => {
  @Module({ imports: [FeatureModule, RedkitModule.forRoot({ ...standaloneOptions(), caches: { sessions: {} } })] })
  class NotGlobal {}
  await assert.rejects(Test.createTestingModule({ imports: [NotGlobal] }).compile(), /can't resolve dependencies of the Consumer/i);

  @Module({ imports: [FeatureModule, RedkitModule.forRoot({ ...standaloneOptions(), isGlobal: true, caches: { sessions: {} } })] })
  class Global {}
  const moduleRef = await Test.createTestingModule({ imports: [Global] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  t.after(() => app.close()); // a failed assertion must not leave the app (and the test process) running
  await app.init();
  assert.equal(app.get(Consumer).redis, null);
  assert.equal(app.get(Consumer).kit.mode, 'standalone');
  await app.close();
});

test('forRootAsync: options from an injected factory; forFeature adds namespaces in a feature module', async (t) => {
  const CONFIG = 'CONFIG';
  @Module({ providers: [{ provide: CONFIG, useValue: { prefix: randomPrefix() } }], exports: [CONFIG] })
  class ConfigModule {}
  @Injectable()
  class Gallery {
    constructor(@InjectCache('gallery') readonly cache: Cache<string>) {}
  }
  @Module({ imports: [RedkitModule.forFeature({ caches: { gallery: { ttl: '30s' } } })], providers: [Gallery] })
  class GalleryModule {}
  @Module({
    imports: [
      RedkitModule.forRootAsync({
        isGlobal: true,
        imports: [ConfigModule],
        inject: [CONFIG],
        useFactory: async (config: { prefix: string }) => ({ ...redisOptions(server, config.prefix, 'async-a') }),
      }),
      GalleryModule,
    ],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  t.after(() => app.close()); // a failed assertion must not leave the app (and the test process) running
  await app.init();
  const kit = app.get<Redkit>(REDKIT);
  assert.equal(kit.mode, 'redis');
  assert.equal(app.get(Gallery).cache, kit.cache.namespace('gallery'));
  assert.equal(app.get(getCacheToken('gallery'), { strict: false }), kit.cache.namespace('gallery'));
  await app.close();
  // kit.close() resolves on QUIT's reply; the socket ends a moment later.
  await waitFor(() => clientClosed(kit), 2000, 'the client ended');
});

test('a given toolkit is used as is and left open on shutdown unless closeOnShutdown', async (t) => {
  const kit = await kitFor(server);
  const moduleRef = await Test.createTestingModule({ imports: [RedkitModule.forRoot({ kit })] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  t.after(() => app.close()); // a failed assertion must not leave the app (and the test process) running
  await app.init();
  assert.equal(app.get(REDKIT), kit);
  assert.equal(app.get(REDIS_CLIENT), kit.redis);
  await app.close();
  assert.equal(kit.mode, 'redis', 'still open: the app did not create it');
  const owned = await standaloneKit();
  owned.cache.namespace('before');
  const moduleRef2 = await Test.createTestingModule({ imports: [RedkitModule.forRoot({ kit: owned, closeOnShutdown: true })] }).compile();
  const app2 = moduleRef2.createNestApplication({ logger: false });
  t.after(() => app2.close());
  t.after(() => kit.close());
  await app2.init();
  await app2.close();
  assert.throws(() => owned.cache.namespace('x'), { code: 'E_CLOSED' });
  await kit.close();
});

test('bad options fail the bootstrap with a typed ConfigError', async () => {
  await assert.rejects(
    Test.createTestingModule({ imports: [RedkitModule.forRoot({ url: 'http://nope:1', env: {} })] }).compile(),
    (err: unknown) => err instanceof ConfigError && /REDIS_URL|url/.test((err as Error).message),
  );
});

test('Redis down at bootstrap: the app still starts (degraded) and the indicator says down, or degraded if asked', async (t) => {
  const dead = await startRedis();
  await dead.kill();
  const moduleRef = await Test.createTestingModule({
    imports: [RedkitModule.forRoot({ ...redisOptions(dead, randomPrefix(), 'late'), connectTimeoutMs: 300 })],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  t.after(() => app.close()); // a failed assertion must not leave the app (and the test process) running
  await app.init();
  const indicator = app.get(RedkitHealthIndicator);
  assert.equal((await indicator.isHealthy()).redis.status, 'down');
  assert.equal((await indicator.isHealthy('redis', { whenDisconnected: 'degraded' })).redis.status, 'degraded');
  assert.ok(app.get(REDIS_CLIENT), 'configured: the client exists even while unreachable');
  await dead.start();
  await waitFor(async () => (await indicator.isHealthy()).redis.status === 'up', 10_000, 'up after Redis starts');
  await app.close();
  await stopRedis(dead);
});

test('Redis paused (SIGSTOP): the indicator answers down (bounded by the command timeout) instead of hanging, and up after SIGCONT', async (t) => {
  const paused = await startRedis();
  t.after(() => stopRedis(paused));
  @Module({ imports: [RedkitModule.forRoot({ ...redisOptions(paused, randomPrefix(), 'paused'), healthController: true })] })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  t.after(() => app.close());
  await app.listen(0, '127.0.0.1');
  const url = await app.getUrl();
  const indicator = app.get(RedkitHealthIndicator);
  assert.equal((await indicator.isHealthy()).redis.status, 'up');
  paused.pause();
  try {
    // Health answers from the connection's state (after a silence, one PING bounded by stallMs); the stall watchdog
    // turns the state to disconnected within stallMs (here min(500, 750)) plus a tick.
    const { value: result } = await waitFor(
      async () => {
        const r = await indicator.isHealthy();
        return r.redis.status === 'down' ? r : null;
      },
      2000,
      'down while paused',
    );
    assert.equal(result!.redis.status, 'down');
    assert.equal(result!.redis.redis, 'disconnected');
    const seed = await fetch(`${url}/api/health`);
    assert.equal(seed.status, 503);
    assert.equal(((await seed.json()) as { status: string }).status, 'degraded');
  } finally {
    paused.resume();
  }
  await waitFor(async () => (await indicator.isHealthy()).redis.status === 'up', 10_000, 'up after SIGCONT');
  assert.equal((await fetch(`${url}/api/health`)).status, 200);
});

test('bad input: a bad cache namespace name fails the bootstrap with InvalidArgumentError; an undeclared @InjectCache is a Nest resolution error', async () => {
  await assert.rejects(
    Test.createTestingModule({ imports: [RedkitModule.forRoot({ ...standaloneOptions(), caches: { 'bad:name': {} } })] }).compile(),
    (err: unknown) => (err as { code?: string }).code === 'E_INVALID_ARGUMENT' && /namespace/.test((err as Error).message),
  );
  @Module({ imports: [RedkitModule.forRoot({ ...standaloneOptions(), isGlobal: true })], providers: [Consumer] })
  class Undeclared {}
  await assert.rejects(Test.createTestingModule({ imports: [Undeclared] }).compile(), /REDKIT_CACHE:sessions/);
});

test('forRootAsync with useClass / useExisting (a RedkitOptionsFactory); exactly one source of options', async (t) => {
  const prefix = randomPrefix();
  @Injectable()
  class RedkitConfig implements RedkitOptionsFactory {
    createRedkitOptions(): RedkitModuleOptions {
      return redisOptions(server, prefix, 'by-class');
    }
  }
  const byClass = await Test.createTestingModule({ imports: [RedkitModule.forRootAsync({ useClass: RedkitConfig })] }).compile();
  const app = byClass.createNestApplication({ logger: false });
  t.after(() => app.close());
  await app.init();
  assert.equal(app.get<Redkit>(REDKIT).instanceId, 'by-class');
  assert.equal(app.get<Redkit>(REDKIT).mode, 'redis');

  @Module({ providers: [RedkitConfig], exports: [RedkitConfig] })
  class ConfigModule {}
  const byExisting = await Test.createTestingModule({ imports: [RedkitModule.forRootAsync({ imports: [ConfigModule], useExisting: RedkitConfig })] }).compile();
  const app2 = byExisting.createNestApplication({ logger: false });
  t.after(() => app2.close());
  await app2.init();
  assert.equal(app2.get<Redkit>(REDKIT).keys.key('x').startsWith(prefix), true);

  assert.throws(() => RedkitModule.forRootAsync({}), { code: 'E_INVALID_ARGUMENT', argument: 'options' });
  assert.throws(() => RedkitModule.forRootAsync({ useClass: RedkitConfig, useFactory: () => ({}) }), /exactly one of useFactory, useClass or useExisting/);
});

/**
 * The shared client has no connection left. On Redis Cluster ioredis 6.0.0 sometimes leaves a
 * Cluster closed on purpose in `close` instead of `end` (no node connection left, no reconnect
 * pending): closed all the same.
 */
function clientClosed(kit: Redkit): boolean {
  const client = kit.redis;
  if (!client || client.status === 'end') return true;
  return isCluster(client) && client.status === 'close' && client.nodes('all').length === 0;
}

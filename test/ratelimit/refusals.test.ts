// A live Redis that refuses the rate-limit scripts (out of memory under noeviction, an ACL user
// without scripting) must not turn into HTTP 500s: onRedisDown decides, and the refusal is
// logged once per minute per error code, not once per request. Also: the local fallback's
// bounds (a key Redis had full stays refused; expectedInstances at a boot without Redis).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import Fastify from 'fastify';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { randomPrefix, waitFor } from '../helpers/util.js';
import { pino } from 'pino';
import { buildServer } from '../../app/server.js';
import { readSettings } from '../../app/settings.js';
import { fastifyRateLimit, RedkitThrottlerStorage, RedisUnavailableError, type Logger, type Redkit } from '../../src/index.js';

/** A logger that keeps every warn line. */
function capture(): Logger & { warns: Array<{ obj: Record<string, unknown>; msg: string | undefined }> } {
  const warns: Array<{ obj: Record<string, unknown>; msg: string | undefined }> = [];
  return {
    warns,
    debug() {},
    info() {},
    error() {},
    warn(obj, msg) {
      warns.push({ obj: obj as Record<string, unknown>, msg });
    },
  };
}

let server: RedisServer;
let admin: Redis;
before(async () => {
  server = await startRedis({ args: ['--maxmemory-policy', 'noeviction'] });
  admin = new Redis({ host: server.host, port: server.port, lazyConnect: true });
  await admin.connect();
});
after(async () => {
  admin?.disconnect();
  await stopRedis(server);
});

/**
 * Puts Redis over maxmemory under noeviction: 2 MB of data, then maxmemory 1 MB below what is
 * used (a limit reached by filling exactly flaps: freeing a refused command's query buffer
 * brings Redis back under it).
 */
async function fillToOom(): Promise<void> {
  const chunk = 'x'.repeat(64 * 1024);
  for (let i = 0; i < 32; i++) await admin.set(`filler:${i}`, chunk);
  const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
  await admin.config('SET', 'maxmemory', String(used - 1024 * 1024));
  await assert.rejects(admin.set('one-more', 'x'), /^ReplyError: OOM|OOM command not allowed/);
}

async function freeMemory(): Promise<void> {
  await admin.config('SET', 'maxmemory', '0');
  await admin.flushdb();
}

test('Redis out of memory (noeviction): limiter, throttler and HTTP route apply onRedisDown; one warning, not one per request', async () => {
  const logger = capture();
  const kit = await kitFor(server, { logger });
  try {
    const local = kit.rateLimiter({ limit: 3, windowMs: 60_000, name: 'oom-local' });
    const deny = kit.rateLimiter({ limit: 3, windowMs: 60_000, name: 'oom-deny', onRedisDown: 'deny' });
    const allow = kit.rateLimiter({ limit: 3, windowMs: 60_000, name: 'oom-allow', onRedisDown: 'allow' });
    assert.equal((await local.consume('warm')).decidedBy, 'redis');
    await fillToOom();

    const results = [];
    for (let i = 0; i < 5; i++) results.push(await local.consume('k'));
    assert.deepEqual(
      results.map((r) => [r.allowed, r.decidedBy]),
      [
        [true, 'local'],
        [true, 'local'],
        [true, 'local'],
        [false, 'local'],
        [false, 'local'],
      ],
    );
    const denied = await deny.consume('k');
    assert.deepEqual([denied.allowed, denied.decidedBy], [false, 'policy']);
    const allowed = await allow.consume('k');
    assert.deepEqual([allowed.allowed, allowed.decidedBy], [true, 'policy']);
    // Concurrent consumes of one key queue behind the first call; all of them fall back too.
    const burst = await Promise.all(Array.from({ length: 50 }, () => local.consume('burst')));
    assert.equal(burst.filter((r) => r.allowed).length, 3);
    assert.ok(burst.every((r) => r.decidedBy === 'local'));

    const storage = new RedkitThrottlerStorage(kit);
    const hit = await storage.increment('client', 60_000, 2, 60_000, 'default');
    assert.equal(hit.isBlocked, false);

    // A real route: 200 then 429, never 500.
    const app = Fastify();
    const limiter = kit.rateLimiter({ limit: 1, windowMs: 60_000, name: 'oom-http' });
    const guard = fastifyRateLimit(limiter);
    app.get('/x', { preHandler: guard }, async () => ({ ok: true }));
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await app.inject({ method: 'GET', url: '/x' })).statusCode);
    await app.close();
    assert.deepEqual(codes, [200, 429, 429]);

    // About 60 refused calls: one warning naming OOM and the fix.
    const oom = logger.warns.filter((w) => w.obj.code === 'OOM');
    assert.equal(oom.length, 1, JSON.stringify(logger.warns));
    assert.match(oom[0]!.msg!, /maxmemory/);

    // reset() cannot degrade: it answers a typed error, never the raw ReplyError. DEL is allowed
    // under OOM, so it simply works here.
    await local.reset('k');
  } finally {
    await freeMemory();
    await kit.close();
  }
  // Memory back: shared counting again without a restart.
  const again = await kitFor(server);
  try {
    assert.equal((await again.rateLimiter({ limit: 3, windowMs: 60_000 }).consume('k')).decidedBy, 'redis');
  } finally {
    await again.close();
  }
});

test('an ACL user without scripting (NOPERM): onRedisDown decides; reset() gives a typed RedisUnavailableError', async () => {
  const keyPrefix = randomPrefix();
  await admin.call('ACL', 'SETUSER', 'noscript', 'on', '>pw', `~${keyPrefix}:*`, `&${keyPrefix}:*`, '+@all', '-@scripting', '-del', '-unlink');
  const logger = capture();
  const kit = await kitFor(server, { keyPrefix, logger, url: `redis://noscript:pw@${server.host}:${server.port}` });
  try {
    const limiter = kit.rateLimiter({ limit: 2, windowMs: 60_000, name: 'acl' });
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await limiter.consume('k'));
    assert.deepEqual(
      results.map((r) => [r.allowed, r.decidedBy]),
      [
        [true, 'local'],
        [true, 'local'],
        [false, 'local'],
      ],
    );
    const noperm = logger.warns.filter((w) => w.obj.code === 'NOPERM');
    assert.equal(noperm.length, 1, JSON.stringify(logger.warns));
    await assert.rejects(limiter.reset('k'), (err: unknown) => err instanceof RedisUnavailableError && err.reason === 'NOPERM');
  } finally {
    await kit.close();
    await admin.call('ACL', 'DELUSER', 'noscript');
  }
});

test('Redis killed while a key is full: the local fallback keeps refusing it instead of granting a fresh share', async () => {
  const kit = await kitFor(server, { connectTimeoutMs: 300 });
  try {
    const limiter = kit.rateLimiter({ algorithm: 'fixed-window', limit: 5, windowMs: 60_000, name: 'carry' });
    for (let i = 0; i < 5; i++) assert.equal((await limiter.consume('full')).allowed, true);
    assert.equal((await limiter.consume('full')).allowed, false);
    assert.equal((await limiter.consume('half')).allowed, true);
    await server.kill();
    const full = [];
    for (let i = 0; i < 5; i++) full.push(await limiter.consume('full'));
    assert.deepEqual(
      full.map((r) => [r.allowed, r.decidedBy]),
      Array(5).fill([false, 'local']),
    );
    assert.ok(full[0]!.retryAfterMs > 50_000 && full[0]!.retryAfterMs <= 60_000, String(full[0]!.retryAfterMs));
    // A key that was not full gets the local share (documented: up to limit + share in that window).
    assert.equal((await limiter.consume('half')).allowed, true);
  } finally {
    await server.start();
    await kit.close();
  }
});

test('booted while Redis is down: expectedInstances bounds what the instances admit together', async () => {
  const dead = await startRedis();
  await dead.kill();
  const keyPrefix = randomPrefix();
  const kits: Redkit[] = [];
  try {
    for (const id of ['boot-a', 'boot-b']) kits.push(await kitFor(dead, { keyPrefix, instanceId: id, connectTimeoutMs: 300 }));
    const admitted = async (expectedInstances?: number) => {
      let n = 0;
      for (const kit of kits) {
        const limiter = kit.rateLimiter({
          limit: 10,
          windowMs: 60_000,
          name: `boot-${expectedInstances ?? 'none'}`,
          ...(expectedInstances ? { expectedInstances } : {}),
        });
        for (let j = 0; j < 20; j++) if ((await limiter.consume('k')).allowed) n++;
      }
      return n;
    };
    // Without a bound, each instance admits the whole limit (no count was ever seen): documented.
    assert.equal(await admitted(), 20);
    assert.equal(await admitted(2), 10);
  } finally {
    for (const kit of kits) await kit.close();
    await stopRedis(dead);
  }
});

test('reference server booted while Redis is down: RATE_LIMIT_EXPECTED_INSTANCES=2 halves the local limit', async () => {
  const dead = await startRedis();
  await dead.kill();
  const kit = await kitFor(dead, { connectTimeoutMs: 300 });
  const app = await buildServer(
    kit,
    readSettings({ PORT: '0', MODERATION_DELAY_MS: '1', RATE_LIMIT_MODERATE: '4/60s', RATE_LIMIT_EXPECTED_INSTANCES: '2' }),
    pino({ level: 'silent' }),
  );
  try {
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await app.inject({ method: 'POST', url: '/api/moderate', payload: { text: `t${i}` } })).statusCode);
    assert.deepEqual(codes, [200, 200, 429, 429]);
  } finally {
    await app.close();
    await kit.close();
    await stopRedis(dead);
  }
});

test('waits for reconnection before the next file runs', async () => {
  await waitFor(async () => (await admin.ping().catch(() => '')) === 'PONG', 10_000, 'admin reconnected');
});

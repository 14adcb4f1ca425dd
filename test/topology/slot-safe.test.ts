// Slot-safe layout on a single endpoint that enforces slots, as ElastiCache Serverless, Azure
// Enterprise or Redis Cloud without the OSS Cluster API do. Stand-in: a redis-server with
// cluster-enabled that holds all 16,384 slots, reached as ONE endpoint (no cluster mode): it
// never redirects, but answers CROSSSLOT to a multi-key command whose keys span slots.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { bullPrefix } from '../../src/queue/index.js';
import { RedkitError, type Logger, type Redkit, type RedkitOptions } from '../../src/index.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { sleep, waitFor } from '../helpers/util.js';

/** A redis-server that enforces slots (one-node cluster holding every slot). */
async function startSlotEnforcing(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'redkit-slots-'));
  const server = await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf')] });
  const admin = new Redis(server.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await admin.connect();
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await waitFor(async () => /cluster_state:ok/.test(String(await admin.call('CLUSTER', 'INFO'))), 20_000, 'cluster_state:ok');
  } finally {
    admin.disconnect();
  }
  return server;
}

/** How many CROSSSLOT replies the server has sent so far (INFO errorstats). */
async function crossSlots(server: RedisServer): Promise<number> {
  const admin = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  try {
    const info = await admin.info('errorstats');
    return Number(/errorstat_CROSSSLOT:count=(\d+)/.exec(info)?.[1] ?? 0);
  } finally {
    admin.disconnect();
  }
}

function capturingLogger(): Logger & { warns: string[] } {
  const warns: string[] = [];
  return { warns, debug() {}, info() {}, error() {}, warn: (_obj: object, msg?: string) => warns.push(String(msg)) };
}

const cookie = { maxAge: 60_000, originalMaxAge: 60_000, httpOnly: true, path: '/' };

/** Lock cycles on distinct names started in one tick: their acquire scripts share a batch. */
async function lockBurst(kit: Redkit, n: number, label: string): Promise<void> {
  const locks = await Promise.all(Array.from({ length: n }, (_, i) => kit.lock.acquire(`${label}-${i}`, { ttl: 5000, restartGuard: 0 } as never)));
  await Promise.all(locks.map((l) => l.release()));
}

describe('slot-safe layout on a single endpoint that enforces slots', () => {
  let server: RedisServer;
  const kits: Redkit[] = [];
  const kit = async (options: RedkitOptions) => {
    const k = await kitFor(server, { commandTimeoutMs: 3000, ...options });
    kits.push(k);
    return k;
  };
  before(async () => {
    server = await startSlotEnforcing();
  });
  after(async () => {
    for (const k of kits) await k.close().catch(() => undefined);
    await stopRedis(server);
  });

  test('the stand-in enforces slots as one endpoint: a cross-slot MGET fails with CROSSSLOT', async () => {
    const plain = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    try {
      await assert.rejects(plain.mget('a', 'b', 'c'), /CROSSSLOT/);
    } finally {
      plain.disconnect();
    }
  });

  test('slotSafe: true: cache, locks, rate limits, job store, queue and sessions work with 0 CROSSSLOT', async () => {
    const before = await crossSlots(server);
    const k = await kit({ slotSafe: true });

    const cache = k.cache.namespace<number>('many', { ttl: '1m', l1: false, strict: true } as never);
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    await cache.setMany(keys.map((key, i) => ({ key, value: i })));
    assert.deepEqual(await cache.getMany([...keys, 'absent']), [...keys.map((_, i) => i), undefined]);
    assert.equal(await cache.clear(), 50);
    assert.deepEqual(await cache.getMany(keys.slice(0, 3)), [undefined, undefined, undefined]);

    await lockBurst(k, 40, 'safe');

    const limiter = k.rateLimiter({ name: 'slots', algorithm: 'sliding-window', limit: 100, windowMs: 60_000, onRedisDown: 'deny' } as never);
    const decisions = await Promise.all(Array.from({ length: 40 }, (_, i) => limiter.consume(`user-${i}`)));
    assert.ok(
      decisions.every((d) => d.allowed && d.decidedBy === 'redis'),
      JSON.stringify(decisions[0]),
    );

    const store = k.jobs.store;
    const created = await Promise.all(Array.from({ length: 10 }, () => store.create({ kind: 'render' })));
    await store.update(created[0]!.id, { status: 'submitted', externalId: 'x', attempts: 1 });
    assert.equal((await store.listUnfinished()).length, 10);

    assert.equal(bullPrefix(k as never), `{${k.config.prefix}:queue}`, 'tagged BullMQ prefix');
    const seen = new Set<number>();
    k.worker('slots', async (job) => {
      seen.add((job.data as { n: number }).n);
    });
    const queue = k.queue('slots', { onRedisDown: 'reject' });
    for (let n = 0; n < 5; n++) await queue.add('x', { n });
    await queue.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 'x', data: { n: 5 + i } })));
    await waitFor(() => seen.size === 10, 30_000, 'every job run');

    const sessions = k.sessionStore();
    await sessions.clear();
    await Promise.all(['s1', 's2', 's3'].map((sid) => sessions.set(sid, { cookie, sid })));
    assert.equal(await sessions.length(), 3);
    assert.equal((await sessions.all()).length, 3);
    await sessions.clear();
    assert.equal(await sessions.length(), 0);

    assert.equal((await crossSlots(server)) - before, 0, 'no CROSSSLOT reply');
    assert.equal(k.connection.slotSafe, true);
  });

  test("slotSafe 'auto': the first cross-slot call fails typed, one warn, then batches and getMany work", async () => {
    const logger = capturingLogger();
    const k = await kit({ slotSafe: 'auto', logger });
    assert.notEqual(k.connection.slotSafe, true, 'nothing detected yet');
    const cache = k.cache.namespace<number>('auto', { ttl: '1m', l1: false, strict: true } as never);
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    await cache.setMany(keys.map((key, i) => ({ key, value: i })));

    const first = await cache.getMany(keys).then(
      () => null,
      (err: unknown) => err,
    );
    assert.ok(first instanceof RedkitError, `typed error, got ${String(first)}`);
    assert.match(String((first as Error).message), /CROSSSLOT/);
    assert.equal(k.connection.slotSafe, true, 'detected');
    const warns = logger.warns.filter((w) => /REDIS_SLOT_SAFE=true/.test(w));
    assert.equal(warns.length, 1, logger.warns.join('\n'));
    assert.match(warns[0]!, /queues created before/);

    assert.deepEqual(
      await cache.getMany(keys),
      keys.map((_, i) => i),
    );
    await lockBurst(k, 40, 'auto');
    const limiter = k.rateLimiter({ name: 'auto', algorithm: 'sliding-window', limit: 100, windowMs: 60_000, onRedisDown: 'deny' } as never);
    const decisions = await Promise.all(Array.from({ length: 40 }, (_, i) => limiter.consume(`user-${i}`)));
    assert.ok(decisions.every((d) => d.allowed && d.decidedBy === 'redis'));
    assert.equal(await cache.clear(), 20);
    assert.equal(bullPrefix(k as never), `{${k.config.prefix}:queue}`, 'queues made from now on are tagged');
    await sleep(50);
    assert.equal(logger.warns.filter((w) => /REDIS_SLOT_SAFE=true/.test(w)).length, 1, 'warned once');
  });

  test("slotSafe 'auto': batched lock scripts are what hits CROSSSLOT first, later bursts work", async () => {
    const logger = capturingLogger();
    const k = await kit({ slotSafe: 'auto', logger });
    // Acquires in one tick go out as one EVALSHA over keys of many slots.
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => k.lock.acquire(`burst-${i}`, { ttl: 5000, restartGuard: 0 } as never)));
    for (const o of outcomes) {
      if (o.status === 'rejected') assert.ok(o.reason instanceof RedkitError, `typed: ${String(o.reason)}`);
      else await o.value.release();
    }
    assert.ok(
      outcomes.some((o) => o.status === 'rejected'),
      'the first batch failed',
    );
    assert.equal(k.connection.slotSafe, true);
    await lockBurst(k, 40, 'later');
    assert.equal(logger.warns.filter((w) => /REDIS_SLOT_SAFE=true/.test(w)).length, 1);
  });
});

describe('slot-safe off on a normal redis-server: layout unchanged', () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedis({ args: ['--loglevel', 'warning'] });
  });
  after(async () => {
    await stopRedis(server);
  });

  for (const slotSafe of [false, 'auto'] as const) {
    test(`slotSafe ${slotSafe}: untagged queue prefix, cross-slot batches in one call, no warn`, async () => {
      const logger = capturingLogger();
      const k = await kitFor(server, { slotSafe, logger });
      try {
        assert.notEqual(k.connection.slotSafe, true);
        assert.equal(bullPrefix(k as never), `${k.config.prefix}:queue`);
        const cache = k.cache.namespace<number>('plain', { ttl: '1m', l1: false, strict: true } as never);
        const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
        await cache.setMany(keys.map((key, i) => ({ key, value: i })));
        assert.deepEqual(
          await cache.getMany(keys),
          keys.map((_, i) => i),
        );
        await lockBurst(k, 20, 'plain');
        assert.notEqual(k.connection.slotSafe, true);
        assert.deepEqual(logger.warns, []);
      } finally {
        await k.close();
      }
    });
  }
});

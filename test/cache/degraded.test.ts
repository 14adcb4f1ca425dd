// Redis faults, isolation and coherence details that only the Redis implementation has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisUnavailableError, type Redkit } from '../../src/index.js';
import { kitFor } from '../helpers/kit.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';
import { keysEverywhere } from '../helpers/keys.js';

test('environments (key prefix) sharing one Redis never see each other; clear() stays in its environment', async () => {
  const server = await startRedis();
  const keyPrefix = randomPrefix('env');
  const staging = await kitFor(server, { keyPrefix, environment: 'staging' });
  const prod = await kitFor(server, { keyPrefix, environment: 'production' });
  try {
    const a = staging.cache.namespace<string>('users', { ttl: '1m' });
    const b = prod.cache.namespace<string>('users', { ttl: '1m' });
    await a.set('u1', 'staging');
    assert.equal(await b.get('u1'), undefined);
    await b.set('u1', 'production');
    assert.equal(await a.get('u1'), 'staging');
    assert.equal(await a.clear(), 1);
    assert.equal(await b.get('u1'), 'production');
    // Keys follow <prefix>:<environment>…:cache:<namespace>:<key>
    const keys = await keysEverywhere(prod.redis!, `${keyPrefix}*`);
    assert.equal(keys.length, 1);
    assert.ok(keys[0]!.includes('production') && keys[0]!.endsWith(':cache:users:u1'), keys[0]);
  } finally {
    await staging.close();
    await prod.close();
    await stopRedis(server);
  }
});

test('Redis killed mid-load: no exception reaches the caller, errors are counted; Redis back → caching resumes without a restart', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  try {
    const c = kit.cache.namespace<{ n: number }>('degrade', { ttl: '1m' });
    let loads = 0;
    const value = await c.getOrSet('k', async () => {
      loads++;
      await server.kill();
      return { n: 1 };
    });
    assert.deepEqual(value, { n: 1 });
    assert.ok(c.stats().errors >= 1, 'the failed write is counted');
    await waitFor(() => kit.mode === 'degraded', 5000, 'degraded mode');
    // Degraded: reads miss, writes are skipped, the loader still runs, nothing throws.
    assert.equal(await c.get('k'), undefined);
    await c.set('k', { n: 2 });
    assert.equal(await c.has('k'), false);
    assert.equal(await c.delete('k'), false);
    assert.deepEqual(await c.getMany(['k', 'j']), [undefined, undefined]);
    await c.setMany([{ key: 'k', value: { n: 3 } }]);
    assert.equal(await c.clear(), 0);
    assert.deepEqual(
      await c.getOrSet('k', async () => {
        loads++;
        return { n: 4 };
      }),
      { n: 4 },
    );
    assert.equal(loads, 2);
    const during = c.stats();
    assert.ok(during.errors >= 9, `errors=${during.errors}`);

    await server.start();
    await waitFor(() => kit.mode === 'redis', 10_000, 'reconnect');
    assert.deepEqual(
      await c.getOrSet('k', async () => {
        loads++;
        return { n: 5 };
      }),
      { n: 5 },
    );
    assert.deepEqual(
      await c.getOrSet('k', async () => {
        loads++;
        return { n: 6 };
      }),
      { n: 5 },
      'cached again',
    );
    assert.equal(loads, 3);
    assert.equal(c.stats().errors, during.errors, 'no new errors once Redis is back');
  } finally {
    await kit.close();
    await stopRedis(server);
  }
});

test('strict mode throws RedisUnavailableError instead of degrading', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  try {
    const c = kit.cache.namespace<number>('strict', { ttl: '1m', strict: true });
    await c.set('k', 1);
    await server.kill();
    await waitFor(() => kit.mode === 'degraded', 5000, 'degraded mode');
    await assert.rejects(c.get('k'), RedisUnavailableError);
    await assert.rejects(c.set('k', 2), RedisUnavailableError);
    await assert.rejects(
      c.getOrSet('k', () => 3),
      RedisUnavailableError,
    );
  } finally {
    await kit.close();
    await stopRedis(server);
  }
});

test('paused Redis (SIGSTOP): reads miss within the command timeout instead of hanging', async () => {
  const server = await startRedis();
  const kit = await kitFor(server, { commandTimeoutMs: 300 });
  try {
    const c = kit.cache.namespace<number>('paused', { ttl: '1m' });
    await c.set('k', 1);
    server.pause();
    const started = performance.now();
    const [got, loaded] = await Promise.all([c.get('k'), c.getOrSet('j', () => 7)]);
    const elapsed = performance.now() - started;
    assert.equal(got, undefined);
    assert.equal(loaded, 7);
    assert.ok(elapsed < 3000, `took ${elapsed} ms`);
    server.resume();
    await waitFor(async () => (await c.get('k')) === 1, 10_000, 'reads again after resume');
  } finally {
    server.resume();
    await kit.close();
    await stopRedis(server);
  }
});

test('grace with L1: a value in grace is served when Redis is killed and the loader fails', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  try {
    const c = kit.cache.namespace<string>('grace-l1', { ttl: 200, grace: '1m', l1: { ttl: '1m' } });
    await c.ready();
    assert.equal(await c.getOrSet('k', () => 'v1'), 'v1');
    await sleep(250); // past the TTL, inside grace
    await server.kill();
    assert.equal(
      await c.getOrSet('k', () => {
        throw new Error('moderation API down');
      }),
      'v1',
    );
    assert.equal(await c.get('k'), 'v1');
    const s = c.stats();
    assert.ok(s.staleServes >= 2, `staleServes=${s.staleServes}`);
    assert.ok(s.errors >= 2, `errors=${s.errors}`);
  } finally {
    await kit.close();
    await stopRedis(server);
  }
});

test('L1 is cleared after a reconnect (pub/sub is at-most-once)', async () => {
  const server = await startRedis();
  const a = await kitFor(server);
  const b = await kitFor(server, { keyPrefix: a.config.prefix });
  try {
    const ca = a.cache.namespace<string>('resync', { ttl: '1m', l1: { ttl: '1m' } });
    const cb = b.cache.namespace<string>('resync', { ttl: '1m', l1: { ttl: '1m' } });
    await Promise.all([ca.ready(), cb.ready()]);
    await ca.set('k', 'old');
    // B's first read may race A's invalidation event and then (rightly) not fill L1: read until it serves from L1.
    await waitFor(async () => (await cb.get('k')) === 'old' && cb.stats().l1Hits >= 1, 2000, 'an L1 hit on B');
    await server.restart(); // data gone, and any invalidation sent meanwhile would be lost
    await waitFor(() => a.mode === 'redis' && b.mode === 'redis', 10_000, 'reconnect');
    await waitFor(async () => (await cb.get('k')) === undefined, 5000, 'L1 dropped after resync');
  } finally {
    await a.close();
    await b.close();
    await stopRedis(server);
  }
});

test('L1 coherence between two instances, and a slow read never refills L1 with an overwritten value', async () => {
  const server = await startRedis();
  const a = await kitFor(server);
  const b = await kitFor(server, { keyPrefix: a.config.prefix });
  try {
    const ca = a.cache.namespace<number>('coh', { ttl: '1m', l1: { ttl: '1m' } });
    const cb = b.cache.namespace<number>('coh', { ttl: '1m', l1: { ttl: '1m' } });
    await Promise.all([ca.ready(), cb.ready()]);
    await ca.set('k', 1);
    assert.equal(await cb.get('k'), 1);
    await ca.set('k', 2);
    await waitFor(async () => (await cb.get('k')) === 2, 1000, 'invalidation');
    // A read in flight while the key is overwritten must not fill L1 with the old value.
    const reading = cb.get('k');
    await cb.set('k', 3);
    await reading;
    assert.equal(await cb.get('k'), 3);
    await ca.setMany([
      { key: 'k', value: 4 },
      { key: 'j', value: 5 },
    ]);
    await waitFor(async () => (await cb.get('k')) === 4, 1000, 'setMany invalidation');
  } finally {
    await a.close();
    await b.close();
    await stopRedis(server);
  }
});

test('a value that cannot be decoded is a miss, not a crash', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  try {
    const c = kit.cache.namespace<number>('corrupt', { ttl: '1m' });
    const raw = `${kit.keys.key('cache', 'corrupt')}:`;
    await kit.redis!.set(`${raw}a`, 'not an entry');
    await kit.redis!.set(`${raw}b`, `${Date.now() + 60_000}:${Date.now() + 60_000}:{broken json`);
    assert.equal(await c.get('a'), undefined);
    assert.equal(await c.get('b'), undefined);
    assert.equal(await c.getOrSet('b', () => 9), 9);
    assert.equal(await c.get('b'), 9);
  } finally {
    await kit.close();
    await stopRedis(server);
  }
});

test('starting degraded: the cache works as "no cache" and picks Redis up when it appears', async () => {
  const server = await startRedis();
  await server.kill();
  let kit: Redkit | undefined;
  try {
    kit = await kitFor(server, { connectTimeoutMs: 300 });
    assert.equal(kit.mode, 'degraded');
    const c = kit.cache.namespace<number>('late', { ttl: '1m', l1: true });
    let loads = 0;
    assert.equal(await c.getOrSet('k', () => ++loads), 1);
    assert.equal(await c.getOrSet('k', () => ++loads), 2);
    await server.start();
    await waitFor(() => kit!.mode === 'redis', 10_000, 'connected');
    await c.ready();
    assert.equal(await c.getOrSet('k', () => ++loads), 3);
    assert.equal(await c.getOrSet('k', () => ++loads), 3);
  } finally {
    await kit?.close();
    await stopRedis(server);
  }
});

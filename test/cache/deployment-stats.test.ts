import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';

// Issue 16: the live page shows the whole deployment's hit rate, at no idle cost.
test('two instances on one Redis: deploymentStats() sums both; unchanged counters send nothing', async () => {
  const server = await startRedis();
  const keyPrefix = randomPrefix();
  const a = await kitFor(server, { keyPrefix });
  const b = await kitFor(server, { keyPrefix });
  const observer = new Redis(server.url);
  try {
    const ca = a.cache.namespace('moderation', { ttl: '1m' });
    const cb = b.cache.namespace('moderation', { ttl: '1m' });
    await ca.set('k', 'v');
    await ca.get('k'); // a: 1 hit
    await ca.get('nope'); // a: 1 miss
    for (let i = 0; i < 3; i++) await cb.get('k'); // b: 3 hits
    await cb.get('nope2'); // b: 1 miss
    assert.equal(a.cache.stats().moderation!.hits, 1);
    assert.equal(b.cache.stats().moderation!.hits, 3);
    // Each reads its own deltas at once, the other's after its next add (every 5 s).
    await waitFor(
      async () => {
        const [da, db] = await Promise.all([a.cache.deploymentStats(), b.cache.deploymentStats()]);
        return da.hits === 4 && da.misses === 2 && db.hits === 4 && db.misses === 2;
      },
      15_000,
      'both instances see 4 hits and 2 misses',
    );
    const stats = await a.cache.deploymentStats();
    assert.equal(stats.scope, 'deployment');
    assert.equal(stats.namespaces.moderation!.hits, 4);
    assert.equal(stats.hitRate, 4 / 6);

    // Idle: no add while nothing changed (the check runs every 5 s).
    await sleep(5500);
    const evalsBefore = await scriptCalls(observer);
    await sleep(11_000);
    assert.equal(await scriptCalls(observer), evalsBefore, 'script calls while the counters did not change');
  } finally {
    observer.disconnect();
    await a.close();
    await b.close();
    await stopRedis(server);
  }
});

test('standalone: deploymentStats() is this instance, scope "instance"', async () => {
  const kit = await standaloneKit();
  try {
    const c = kit.cache.namespace('n', { ttl: '1m' });
    await c.set('k', 1);
    await c.get('k');
    await c.get('x');
    const stats = await kit.cache.deploymentStats();
    assert.equal(stats.scope, 'instance');
    assert.deepEqual([stats.hits, stats.misses], [1, 1]);
  } finally {
    await kit.close();
  }
});

async function scriptCalls(observer: Redis): Promise<number> {
  let n = 0;
  for (const line of (await observer.info('commandstats')).split('\n')) {
    const m = /^cmdstat_(evalsha|eval|hincrby):calls=(\d+)/.exec(line.trim());
    if (m) n += Number(m[2]);
  }
  return n;
}

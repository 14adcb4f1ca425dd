// Standalone mode's store and the L1 tier: bounded, LRU, TTL, isolated from caller mutations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LruMap } from '../../src/internals.js';
import { standaloneKit } from '../helpers/kit.js';

test('standalone store is bounded by maxEntries and evicts the least recently used', async () => {
  const kit = await standaloneKit();
  try {
    const c = kit.cache.namespace<number>('bounded', { ttl: '1m', maxEntries: 10 });
    for (let i = 0; i < 10; i++) await c.set(`k${i}`, i);
    // Keep k0 hot while 30 more keys arrive.
    for (let i = 10; i < 40; i++) {
      assert.equal(await c.get('k0'), 0);
      await c.set(`k${i}`, i);
    }
    const present = (await c.getMany(Array.from({ length: 40 }, (_, i) => `k${i}`))).filter((v) => v !== undefined);
    assert.ok(present.length <= 10, `kept ${present.length}`);
    assert.equal(await c.get('k0'), 0, 'the hot key survived');
    assert.equal(await c.get('k39'), 39, 'the newest key is there');
    assert.equal(await c.get('k11'), undefined, 'an old cold key was evicted');
  } finally {
    await kit.close();
  }
});

test('standalone store is bounded by maxBytes', async () => {
  const kit = await standaloneKit();
  try {
    const c = kit.cache.namespace<string>('bytes', { ttl: '1m', maxBytes: 10_000 });
    for (let i = 0; i < 50; i++) await c.set(`k${i}`, 'x'.repeat(998)); // 1,000 chars stored each
    const present = (await c.getMany(Array.from({ length: 50 }, (_, i) => `k${i}`))).filter((v) => v !== undefined);
    assert.equal(present.length, 10);
  } finally {
    await kit.close();
  }
});

test('standalone: a value mutated by the caller after set() is not changed in the cache', async () => {
  const kit = await standaloneKit();
  try {
    const c = kit.cache.namespace<{ n: number }>('copy', { ttl: '1m' });
    const value = { n: 1 };
    await c.set('k', value);
    value.n = 2;
    assert.deepEqual(await c.get('k'), { n: 1 });
    // L1/standalone options the namespace ignores in standalone mode do not break it.
    const l1 = kit.cache.namespace<number>('l1-standalone', { ttl: '1m', l1: true, stampedeLock: true });
    await l1.ready();
    assert.equal(await l1.getOrSet('k', () => 5), 5);
    assert.equal(l1.stats().store, 'memory');
  } finally {
    await kit.close();
  }
});

test('LruMap: expired entries are dropped, a value in its stale window is still returned', () => {
  const lru = new LruMap<number>({ maxEntries: 3, maxBytes: 1000 });
  const now = 1_000_000;
  lru.set('a', { value: 1, expiresAt: now + 10, staleUntil: now + 20 }, 1);
  assert.equal(lru.get('a', now + 5)?.value, 1);
  assert.equal(lru.get('a', now + 15)?.value, 1, 'stale window');
  assert.equal(lru.get('a', now + 25), undefined);
  assert.equal(lru.size, 0);
  lru.set('big', { value: 2, expiresAt: now + 10, staleUntil: now + 10 }, 5000);
  assert.equal(lru.get('big', now), undefined, 'an entry over maxBytes is not kept');
});

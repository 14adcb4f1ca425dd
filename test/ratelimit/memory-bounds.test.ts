// The in-memory store (standalone mode, and every instance's fallback while Redis is down) stays
// bounded and fast when full: a client rotating keys must not stall the event loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RateLimitPolicy } from '../../src/index.js';
import { MemoryRateLimitStore } from '../../src/internals.js';

test('full at maxKeys: 20,000 new keys in bounded time, least recently used dropped, hot keys kept', async () => {
  let now = 1_000_000;
  const store = new MemoryRateLimitStore({ maxKeys: 50_000, now: () => now });
  const policy: RateLimitPolicy = { algorithm: 'fixed-window', limit: 2, windowMs: 600_000, blockMs: 0 };
  try {
    await store.consume('hot', policy, 2, false);
    for (let i = 0; i < 50_000; i++) {
      await store.consume(`k${i}`, policy, 1, false);
      if (i % 1000 === 0) await store.consume('hot', policy, 1, true);
    }
    const started = performance.now();
    for (let i = 50_000; i < 70_000; i++) {
      await store.consume(`k${i}`, policy, 1, false);
      if (i % 1000 === 0) await store.consume('hot', policy, 1, true);
    }
    const tookMs = performance.now() - started;
    assert.equal(store.size, 50_000);
    // The hot key is still full (refused), a cold early key was dropped (allowed afresh).
    assert.equal((await store.consume('hot', policy, 1, true)).allowed, false);
    assert.equal((await store.consume('k5', policy, 2, true)).allowed, true);
    // ~50 ms here; the Map store it replaced swept every key per new key (~3.5 ms each: ~70 s). Generous for a loaded machine.
    assert.ok(tookMs < 5000, `took ${Math.round(tookMs)} ms`);
    now += 700_000;
    store.sweep();
    assert.equal(store.size, 0, 'expired keys are swept');
  } finally {
    store.close();
  }
});

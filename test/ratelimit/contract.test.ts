// The same counting tests on the Redis store (Lua) and the in-memory store, with an injected
// clock: window edges, refill and blocks are tested at exact instants instead of with sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contractSuite } from '../helpers/contract.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { MemoryRateLimitStore, RedisRateLimitStore } from '../../src/internals.js';
import type { RateLimitPolicy, RateLimitStore } from '../../src/index.js';

interface Subject {
  store: RateLimitStore;
  clock: { t: number };
  key(): string;
}

let n = 0;
const fresh = () => `k${++n}`;

contractSuite<Subject>(
  'rate-limit store',
  [
    {
      name: 'redis',
      async setup() {
        const server = await startRedis();
        const kit = await kitFor(server);
        const clock = { t: 1_700_000_000_000 };
        const store = new RedisRateLimitStore(kit, { now: () => clock.t });
        return {
          subject: { store, clock, key: fresh },
          teardown: async () => {
            await kit.close();
            await stopRedis(server);
          },
        };
      },
    },
    {
      name: 'memory',
      async setup() {
        const clock = { t: 1_700_000_000_000 };
        const store = new MemoryRateLimitStore({ now: () => clock.t });
        return { subject: { store, clock, key: fresh }, teardown: async () => store.close() };
      },
    },
  ],
  (subject) => {
    const fixed: RateLimitPolicy = { algorithm: 'fixed-window', limit: 3, windowMs: 10_000, blockMs: 0 };
    const sliding: RateLimitPolicy = { algorithm: 'sliding-window', limit: 3, windowMs: 10_000, blockMs: 0 };
    const bucket: RateLimitPolicy = { algorithm: 'token-bucket', limit: 4, windowMs: 10_000, blockMs: 0 };

    test('fixed window: limit per window from the first hit; resets exactly at the window end', async () => {
      const { store, clock } = subject();
      const key = subject().key();
      const start = clock.t;
      const seen = [];
      for (let i = 0; i < 4; i++) seen.push(await store.consume(key, fixed, 1, false));
      assert.deepEqual(
        seen.map((r) => r.allowed),
        [true, true, true, false],
      );
      assert.deepEqual(
        seen.map((r) => r.remaining),
        [2, 1, 0, 0],
      );
      assert.equal(seen[0]!.resetMs, 10_000);
      clock.t = start + 9_999;
      const last = await store.consume(key, fixed, 1, false);
      assert.deepEqual(last, { allowed: false, remaining: 0, resetMs: 1, retryAfterMs: 1 });
      clock.t = start + 10_000;
      const next = await store.consume(key, fixed, 1, false);
      assert.deepEqual(next, { allowed: true, remaining: 2, resetMs: 10_000, retryAfterMs: 0 });
    });

    test('sliding window is exact: no burst across a window edge; hits leave one by one', async () => {
      const { store, clock } = subject();
      const key = subject().key();
      const t0 = clock.t;
      assert.equal((await store.consume(key, sliding, 1, false)).allowed, true); // t0
      clock.t = t0 + 6000;
      assert.equal((await store.consume(key, sliding, 2, false)).allowed, true); // t0+6000 ×2
      clock.t = t0 + 9_999;
      const refused = await store.consume(key, sliding, 1, false);
      assert.deepEqual(refused, { allowed: false, remaining: 0, resetMs: 6001, retryAfterMs: 1 });
      clock.t = t0 + 10_000; // the first hit leaves; a fixed window would now allow 3
      const one = await store.consume(key, sliding, 1, false);
      assert.deepEqual(one, { allowed: true, remaining: 0, resetMs: 10_000, retryAfterMs: 0 });
      const two = await store.consume(key, sliding, 1, false);
      assert.equal(two.allowed, false);
      assert.equal(two.retryAfterMs, 6000); // the two units at t0+6000 leave at t0+16000
      clock.t = t0 + 16_000;
      const peeked = await store.consume(key, sliding, 2, true);
      assert.deepEqual(peeked, { allowed: true, remaining: 2, resetMs: 4000, retryAfterMs: 0 });
    });

    test('token bucket: capacity, continuous refill, retry-after for the missing tokens', async () => {
      const { store, clock } = subject();
      const key = subject().key();
      const t0 = clock.t;
      assert.deepEqual(await store.consume(key, bucket, 4, false), { allowed: true, remaining: 0, resetMs: 10_000, retryAfterMs: 0 });
      assert.deepEqual(await store.consume(key, bucket, 1, false), { allowed: false, remaining: 0, resetMs: 10_000, retryAfterMs: 2500 });
      clock.t = t0 + 2500; // one token back (4 per 10 s)
      assert.deepEqual(await store.consume(key, bucket, 1, false), { allowed: true, remaining: 0, resetMs: 10_000, retryAfterMs: 0 });
      clock.t = t0 + 7500; // two tokens back
      assert.deepEqual(await store.consume(key, bucket, 3, false), { allowed: false, remaining: 2, resetMs: 5000, retryAfterMs: 2500 });
      clock.t = t0 + 50_000; // full, never more than capacity
      assert.deepEqual(await store.consume(key, bucket, 1, true), { allowed: true, remaining: 4, resetMs: 0, retryAfterMs: 0 });
    });

    for (const policy of [fixed, sliding, bucket]) {
      test(`${policy.algorithm}: blockMs refuses everything for the block, then the key starts afresh`, async () => {
        const { store, clock } = subject();
        const key = subject().key();
        const blocking = { ...policy, blockMs: 50_000 };
        const t0 = clock.t;
        for (let i = 0; i < policy.limit; i++) assert.equal((await store.consume(key, blocking, 1, false)).allowed, true);
        assert.deepEqual(await store.consume(key, blocking, 1, false), { allowed: false, remaining: 0, resetMs: 50_000, retryAfterMs: 50_000 });
        clock.t = t0 + 30_000; // the window is long over, the block is not
        assert.deepEqual(await store.consume(key, blocking, 1, false), { allowed: false, remaining: 0, resetMs: 20_000, retryAfterMs: 20_000 });
        clock.t = t0 + 50_000;
        const after = await store.consume(key, blocking, 1, false);
        assert.equal(after.allowed, true);
        assert.equal(after.remaining, policy.limit - 1);
      });

      test(`${policy.algorithm}: peek decides without consuming; reset forgets the key`, async () => {
        const { store } = subject();
        const key = subject().key();
        const before = await store.consume(key, policy, 1, true);
        assert.equal(before.allowed, true);
        assert.equal(before.remaining, policy.limit);
        for (let i = 0; i < 5; i++) await store.consume(key, policy, 1, true);
        assert.equal((await store.consume(key, policy, policy.limit, false)).allowed, true);
        const full = await store.consume(key, policy, 1, true);
        assert.equal(full.allowed, false);
        assert.equal(full.remaining, 0);
        await store.reset(key, policy);
        assert.equal((await store.consume(key, policy, policy.limit, false)).allowed, true);
      });
    }

    test('keys and algorithms never share counters', async () => {
      const { store } = subject();
      const a = subject().key();
      const b = subject().key();
      assert.equal((await store.consume(a, fixed, 3, false)).allowed, true);
      assert.equal((await store.consume(b, fixed, 3, false)).allowed, true);
      assert.equal((await store.consume(a, sliding, 3, false)).allowed, true);
      assert.equal((await store.consume(a, fixed, 1, false)).allowed, false);
    });

    for (const algorithm of ['fixed-window', 'sliding-window', 'token-bucket'] as const) {
      test(`${algorithm}: concurrent consumes at one instant decide in order, as one after another`, async () => {
        const { store } = subject();
        const key = subject().key();
        const policy: RateLimitPolicy = { algorithm, limit: 5, windowMs: 10_000, blockMs: 0 };
        const results = await Promise.all([2, 2, 2, 1, 1].map((cost) => store.consume(key, policy, cost, false)));
        assert.deepEqual(
          results.map((r) => [r.allowed, r.remaining]),
          [
            [true, 3],
            [true, 1],
            [false, 1],
            [true, 0],
            [false, 0],
          ],
        );
        const blockingKey = subject().key();
        const blocking = { ...policy, limit: 3, blockMs: 50_000 };
        const blocked = await Promise.all([1, 1, 1, 1, 1].map((cost) => store.consume(blockingKey, blocking, cost, false)));
        assert.deepEqual(
          blocked.map((r) => [r.allowed, r.remaining, r.retryAfterMs]),
          [
            [true, 2, 0],
            [true, 1, 0],
            [true, 0, 0],
            [false, 0, 50_000],
            [false, 0, 50_000],
          ],
        );
        // Peeks in the same turn never consume.
        const peeks = await Promise.all([1, 1, 1].map(() => store.consume(subject().key(), policy, 5, true)));
        for (const p of peeks) assert.equal(p.allowed, true);
      });
    }

    test("sliding window: a refusal inside a batch counts the batch's own admissions", async () => {
      const { store, clock } = subject();
      const key = subject().key();
      const t0 = clock.t;
      await store.consume(key, sliding, 1, false);
      clock.t = t0 + 6000;
      const [a, b] = await Promise.all([store.consume(key, sliding, 2, false), store.consume(key, sliding, 1, false)]);
      assert.deepEqual(a, { allowed: true, remaining: 0, resetMs: 10_000, retryAfterMs: 0 });
      assert.deepEqual(b, { allowed: false, remaining: 0, resetMs: 10_000, retryAfterMs: 4000 });
    });

    test('many concurrent consumes admit exactly the limit', async () => {
      const { store } = subject();
      const key = subject().key();
      for (const policy of [fixed, sliding, bucket]) {
        const p = { ...policy, limit: 50, windowMs: 60_000 };
        const results = await Promise.all(Array.from({ length: 200 }, () => store.consume(key, p, 1, false)));
        assert.equal(results.filter((r) => r.allowed).length, 50, policy.algorithm);
      }
    });
  },
);

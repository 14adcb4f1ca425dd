// Redis killed, paused and restarted under the limiters: each onRedisDown policy does what it
// says, the throttler storage never throws a connection error, and shared limiting resumes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { randomPrefix, waitFor } from '../helpers/util.js';
import { RedkitThrottlerStorage, type Redkit, type RateLimitResult } from '../../src/index.js';

let server: RedisServer;
let a: Redkit;
let b: Redkit;
before(async () => {
  server = await startRedis();
  // Two instances of one app: same key prefix, different instance ids.
  const keyPrefix = randomPrefix();
  a = await kitFor(server, { keyPrefix, instanceId: 'instance-a' });
  b = await kitFor(server, { keyPrefix, instanceId: 'instance-b' });
});
after(async () => {
  await a?.close();
  await b?.close();
  await stopRedis(server);
});

const count = (results: RateLimitResult[]) => results.filter((r) => r.allowed).length;
async function consumeMany(limiter: { consume(key: string): Promise<RateLimitResult> }, key: string, n: number): Promise<RateLimitResult[]> {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await limiter.consume(key));
  return out;
}

test("Redis killed: 'local' shares the limit out among the live instances; Redis back: shared limiting resumes", async () => {
  const options = { algorithm: 'fixed-window', limit: 10, windowMs: 60_000, name: 'local' } as const;
  const la = a.rateLimiter(options);
  const lb = b.rateLimiter(options);
  await la.refreshLiveInstances();
  assert.equal(await lb.refreshLiveInstances(), 2);
  assert.equal(await la.refreshLiveInstances(), 2);

  await server.kill();
  const fromA = await consumeMany(la, 'user', 20);
  // Concurrent on B: the queued requests behind the failed one fall back one by one too.
  const fromB = await Promise.all(Array.from({ length: 20 }, () => lb.consume('user')));
  // Each instance gets floor(10 / 2) = 5: together they stay at the configured limit.
  assert.equal(count(fromA), 5);
  assert.equal(count(fromB), 5);
  for (const r of [...fromA, ...fromB]) {
    assert.equal(r.decidedBy, 'local');
    assert.equal(r.limit, 5);
  }
  const refused = fromA.at(-1)!;
  assert.equal(refused.allowed, false);
  assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 60_000);

  await server.start();
  await waitFor(() => a.mode === 'redis' && b.mode === 'redis', 10_000, 'both instances reconnected');
  // Shared again: 10 in total across both instances, whoever asks.
  const shared = [];
  for (let i = 0; i < 12; i++) shared.push(await (i % 2 ? lb : la).consume('user'));
  assert.equal(count(shared), 10);
  for (const r of shared) assert.equal(r.decidedBy, 'redis');
  assert.deepEqual(
    shared.map((r) => r.allowed),
    [...Array(10).fill(true), false, false],
  );
});

test("Redis killed: 'allow' lets everything through and 'deny' refuses everything; the result says the policy decided", async () => {
  const allow = a.rateLimiter({ limit: 2, windowMs: 60_000, name: 'allow', onRedisDown: 'allow' });
  const deny = a.rateLimiter({ limit: 2, windowMs: 60_000, name: 'deny', onRedisDown: 'deny' });
  assert.equal((await allow.consume('k')).decidedBy, 'redis');
  await server.kill();
  const allowed = await consumeMany(allow, 'k', 5);
  assert.equal(count(allowed), 5);
  for (const r of allowed) assert.equal(r.decidedBy, 'policy');
  const denied = await consumeMany(deny, 'k', 3);
  assert.equal(count(denied), 0);
  for (const r of denied) {
    assert.equal(r.decidedBy, 'policy');
    assert.ok(r.retryAfterMs > 0);
  }
  await server.start();
  await waitFor(() => a.mode === 'redis', 10_000, 'reconnected');
  const back = await consumeMany(deny, 'k', 3);
  assert.deepEqual(
    back.map((r) => [r.allowed, r.decidedBy]),
    [
      [true, 'redis'],
      [true, 'redis'],
      [false, 'redis'],
    ],
  );
});

test('throttler storage with Redis killed never throws a connection error; each policy answers', async () => {
  const local = new RedkitThrottlerStorage(a);
  const allow = new RedkitThrottlerStorage(a, { onRedisDown: 'allow' });
  const deny = new RedkitThrottlerStorage(a, { onRedisDown: 'deny' });
  await waitFor(() => a.mode === 'redis' && b.mode === 'redis', 10_000, 'both connected');
  await b.rateLimiter({ limit: 1, windowMs: 1000 }).refreshLiveInstances();
  assert.equal(await a.rateLimiter({ limit: 1, windowMs: 1000 }).refreshLiveInstances(), 2);
  const up = await local.increment('t1', 60_000, 4, 60_000, 'default');
  assert.deepEqual(up, { totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 });
  await server.kill();
  const hits = [];
  for (let i = 0; i < 4; i++) hits.push(await local.increment('t2', 60_000, 4, 60_000, 'default'));
  // Two live instances: this one's share is 2 hits, then blocked for blockDuration.
  assert.deepEqual(
    hits.map((h) => h.isBlocked),
    [false, false, true, true],
  );
  assert.equal(hits[2]!.timeToBlockExpire, 60);
  assert.equal((await allow.increment('t3', 60_000, 1, 60_000, 'default')).isBlocked, false);
  assert.equal((await allow.increment('t3', 60_000, 1, 60_000, 'default')).isBlocked, false);
  const refused = await deny.increment('t4', 60_000, 5, 60_000, 'default');
  assert.equal(refused.isBlocked, true);
  assert.ok(refused.timeToBlockExpire >= 1);
  await server.start();
  await waitFor(() => a.mode === 'redis', 10_000, 'reconnected');
  assert.equal((await deny.increment('t4', 60_000, 5, 60_000, 'default')).isBlocked, false);
});

test('Redis paused (SIGSTOP): decisions fall back within the command timeout instead of hanging; resumed: redis again', async () => {
  const limiter = a.rateLimiter({ algorithm: 'sliding-window', limit: 3, windowMs: 60_000, name: 'paused' });
  assert.equal((await limiter.consume('k')).decidedBy, 'redis');
  server.pause();
  try {
    const started = performance.now();
    const during = await limiter.consume('k');
    const tookMs = performance.now() - started;
    assert.equal(during.decidedBy, 'local');
    assert.equal(during.allowed, true);
    // The command timeout of these kits is 500 ms; generous bound for a shared machine.
    assert.ok(tookMs < 3000, `took ${tookMs} ms`);
    await waitFor(() => a.mode === 'degraded', 5000, 'probe notices the pause');
    const fast = performance.now();
    assert.equal((await limiter.consume('k')).decidedBy, 'local');
    assert.ok(performance.now() - fast < 200, 'fails fast once the pause is known');
  } finally {
    server.resume();
  }
  await waitFor(() => a.mode === 'redis', 10_000, 'resumed');
  const after = await limiter.consume('k');
  assert.equal(after.decidedBy, 'redis');
  // The Redis log kept the first hit. The consume that timed out was already on the wire and
  // may have run when Redis woke up: a timeout cannot tell, so remaining is 1 or 0.
  assert.equal(after.allowed, true);
  assert.ok(after.remaining <= 1, String(after.remaining));
});

test('started while Redis is down: the local limiter decides with the whole limit (no instance count seen yet)', async () => {
  const dead = await startRedis();
  await dead.kill();
  const kit = await kitFor(dead, { connectTimeoutMs: 300 });
  try {
    assert.equal(kit.mode, 'degraded');
    const limiter = kit.rateLimiter({ algorithm: 'token-bucket', limit: 3, windowMs: 60_000 });
    const results = await consumeMany(limiter, 'k', 4);
    assert.deepEqual(
      results.map((r) => [r.allowed, r.decidedBy, r.limit]),
      [
        [true, 'local', 3],
        [true, 'local', 3],
        [true, 'local', 3],
        [false, 'local', 3],
      ],
    );
    const storage = new RedkitThrottlerStorage(kit, { onRedisDown: 'deny' });
    assert.equal((await storage.increment('x', 1000, 1, 1000, 'default')).isBlocked, true);
  } finally {
    await kit.close();
    await stopRedis(dead);
  }
});

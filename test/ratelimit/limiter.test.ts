import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { standaloneKit, useRedisKit } from '../helpers/kit.js';
import { randomPrefix } from '../helpers/util.js';
import { InvalidArgumentError, ClosedError, type RateLimitAlgorithm } from '../../src/index.js';

const fixture = useRedisKit();

const worker = fileURLToPath(new URL('./fixtures/consume-worker.js', import.meta.url));

/** Starts a worker process; resolves once it is connected and waiting for "go". */
async function startWorker(env: Record<string, string>) {
  const child = spawn(process.execPath, [worker], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.value !== 'ready') await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(first.value, 'ready', `worker did not start: exit ${child.exitCode}, stderr: ${stderr}`);
  return {
    go: () => child.stdin!.write('go\n'),
    result: async () => {
      const line = await lines.next();
      await new Promise((resolve) => child.once('exit', resolve));
      return JSON.parse(line.value as string) as { allowed: number; decidedBy: string[] };
    },
  };
}

for (const algorithm of ['sliding-window', 'fixed-window', 'token-bucket'] as RateLimitAlgorithm[]) {
  test(`${algorithm}: two processes × 200 concurrent consumes on one key, limit 50 → exactly 50 allowed`, async () => {
    const env = {
      REDIS_URL: fixture.server.url,
      KEY_PREFIX: randomPrefix(),
      KEY: 'hot',
      LIMIT: '50',
      CONSUMES: '200',
      ALGORITHM: algorithm,
      // A bucket refills continuously: 50 per hour keeps the refill during the test under one token.
      WINDOW_MS: algorithm === 'token-bucket' ? '3600000' : '60000',
    };
    const workers = await Promise.all([startWorker(env), startWorker(env)]);
    for (const w of workers) w.go();
    const results = await Promise.all(workers.map((w) => w.result()));
    assert.equal(results[0]!.allowed + results[1]!.allowed, 50, JSON.stringify(results));
    for (const r of results) assert.deepEqual(r.decidedBy, ['redis']);
  });
}

test('the result has the documented shape and redis decides', async () => {
  const limiter = fixture.kit.rateLimiter({ algorithm: 'fixed-window', limit: 2, windowMs: 10_000, name: 'shape' });
  const first = await limiter.consume('u1');
  assert.equal(first.allowed, true);
  assert.equal(first.limit, 2);
  assert.equal(first.remaining, 1);
  assert.equal(first.retryAfterMs, 0);
  assert.equal(first.decidedBy, 'redis');
  assert.ok(first.resetMs > 9000 && first.resetMs <= 10_000);
  await limiter.consume('u1');
  const refused = await limiter.consume('u1');
  assert.equal(refused.allowed, false);
  assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 10_000);
  assert.equal((await limiter.peek('u1')).allowed, false);
  await limiter.reset('u1');
  assert.equal((await limiter.consume('u1')).remaining, 1);
  // Another limiter name never shares the counters.
  const other = fixture.kit.rateLimiter({ algorithm: 'fixed-window', limit: 2, windowMs: 10_000, name: 'shape2' });
  assert.equal((await other.consume('u1')).remaining, 1);
});

test('decisions use Redis server time: a skewed local clock changes nothing', async () => {
  const limiter = fixture.kit.rateLimiter({ algorithm: 'fixed-window', limit: 3, windowMs: 60_000, name: 'skew' });
  const realNow = Date.now;
  const seen = [];
  try {
    for (const skewMs of [0, 3_600_000, -3_600_000]) {
      Date.now = () => realNow() + skewMs;
      seen.push(await limiter.consume('same-window'));
    }
    Date.now = () => realNow() + 3_600_000;
    seen.push(await limiter.consume('same-window'));
  } finally {
    Date.now = realNow;
  }
  // With local clocks the +1 h and -1 h instances would each see a fresh window.
  assert.deepEqual(
    seen.map((r) => r.allowed),
    [true, true, true, false],
  );
  assert.deepEqual(
    seen.map((r) => r.remaining),
    [2, 1, 0, 0],
  );
  for (const r of seen) assert.ok(r.resetMs <= 60_000);
});

test('a short window really resets on the server clock', async () => {
  const limiter = fixture.kit.rateLimiter({ algorithm: 'fixed-window', limit: 1, windowMs: 150, name: 'short' });
  assert.equal((await limiter.consume('k')).allowed, true);
  const refused = await limiter.consume('k');
  assert.equal(refused.allowed, false);
  await new Promise((r) => setTimeout(r, refused.retryAfterMs + 5));
  assert.equal((await limiter.consume('k')).allowed, true);
});

test('bad input gets typed errors naming the input', async () => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ limit: 0, windowMs: 1000 }, 'rateLimiter.limit'],
    [{ limit: -1, windowMs: 1000 }, 'rateLimiter.limit'],
    [{ limit: 1.5, windowMs: 1000 }, 'rateLimiter.limit'],
    [{ limit: '10', windowMs: 1000 }, 'rateLimiter.limit'],
    [{ limit: 10, windowMs: 0 }, 'rateLimiter.windowMs'],
    [{ limit: 10, windowMs: -5 }, 'rateLimiter.windowMs'],
    [{ limit: 10, windowMs: Number.NaN }, 'rateLimiter.windowMs'],
    [{ limit: 10, windowMs: 1000, blockMs: -1 }, 'rateLimiter.blockMs'],
    [{ limit: 10, windowMs: 1000, algorithm: 'leaky' }, 'rateLimiter.algorithm'],
    [{ limit: 10, windowMs: 1000, onRedisDown: 'maybe' }, 'rateLimiter.onRedisDown'],
    [{ limit: 10, windowMs: 1000, name: '' }, 'rateLimiter.name'],
  ];
  for (const [options, argument] of bad) {
    assert.throws(
      () => fixture.kit.rateLimiter(options as never),
      (err: unknown) => err instanceof InvalidArgumentError && err.code === 'E_INVALID_ARGUMENT' && err.argument === argument,
      JSON.stringify(options),
    );
  }
  const limiter = fixture.kit.rateLimiter({ limit: 5, windowMs: 1000, name: 'bad' });
  for (const [key, cost, argument] of [
    ['', 1, 'key'],
    [undefined, 1, 'key'],
    ['k', 0, 'cost'],
    ['k', 6, 'cost'],
    ['k', 1.5, 'cost'],
    ['k', -1, 'cost'],
  ] as const) {
    await assert.rejects(
      async () => limiter.consume(key as string, cost),
      (err: unknown) => err instanceof InvalidArgumentError && err.argument === argument,
    );
  }
  await assert.rejects(limiter.peek('k', 6), InvalidArgumentError);
  // Nothing was consumed by the refused calls.
  assert.equal((await limiter.consume('k', 5)).allowed, true);
});

test('standalone: in memory, same counting, decidedBy memory; closed afterwards', async () => {
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const local = await standaloneKit();
  const limiter = local.rateLimiter({ algorithm: 'sliding-window', limit: 50, windowMs: 60_000 });
  const results = await Promise.all(Array.from({ length: 200 }, () => limiter.consume('k')));
  assert.equal(results.filter((r) => r.allowed).length, 50);
  assert.deepEqual([...new Set(results.map((r) => r.decidedBy))], ['memory']);
  await local.close();
  await assert.rejects(limiter.consume('k'), ClosedError);
  assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before);
});

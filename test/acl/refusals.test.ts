import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import {
  createRedkit,
  RedisOutOfMemoryError,
  RedisReadOnlyError,
  RedisPermissionError,
  RedisUnavailableError,
  RedkitError,
  type Redkit,
  type Logger,
  type RedkitOptions,
} from '../../src/index.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';

type Line = { level: string; msg: string; obj: Record<string, unknown> };
function recordingLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (obj: object, msg = '') => {
      lines.push({ level, msg, obj: obj as Record<string, unknown> });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function kitOn(url: string, prefix: string, logger: Logger, extra: Partial<RedkitOptions> = {}): Promise<Redkit> {
  return createRedkit({
    url,
    keyPrefix: prefix,
    connectTimeoutMs: 2000,
    commandTimeoutMs: 1000,
    healthIntervalMs: 200,
    env: {},
    logger,
    backoff: { baseMs: 20, maxMs: 200 },
    ...extra,
  } as RedkitOptions);
}

/** How many error replies of `code` (NOPERM, OOM…) the server has sent so far (INFO errorstats). */
async function errorReplies(admin: Redis, code: string): Promise<number> {
  const stats = await admin.info('errorstats');
  return Number(new RegExp(`errorstat_${code}:count=(\\d+)`).exec(stats)?.[1] ?? 0);
}

/** A raw ioredis ReplyError is what must never reach a caller. */
function assertTyped(err: unknown): asserts err is RedkitError {
  assert.ok(err instanceof RedkitError, `expected a RedkitError, got ${(err as Error)?.name}: ${String((err as Error)?.message ?? err)}`);
  assert.notEqual((err as Error).name, 'ReplyError');
}

describe('refused commands become typed errors, and nothing spins', () => {
  let server: RedisServer;
  let admin: Redis;
  before(async () => {
    server = await startRedis();
    admin = new Redis({ port: server.port, host: server.host, lazyConnect: true });
    await admin.connect();
  });
  after(async () => {
    admin?.disconnect();
    await stopRedis(server);
  });

  test("NOPERM: a worker whose keys are outside the user's patterns logs one typed error, backs off, and recovers once the ACL is fixed", async () => {
    const prefix = randomPrefix('np');
    // The usual mistake: a key pattern that does not match the kit's prefix.
    await admin.call('ACL', 'SETUSER', 'narrow', 'on', '>pw', 'resetkeys', '~elsewhere:*', 'resetchannels', '&elsewhere:*', '+@all', '-@dangerous');
    const logger = recordingLogger();
    const kit = await kitOn(`redis://narrow:pw@127.0.0.1:${server.port}`, prefix, logger);
    try {
      const seen: number[] = [];
      const before = await errorReplies(admin, 'NOPERM');
      const worker = kit.worker('video', async (job) => {
        seen.push((job.data as { n: number }).n);
      });
      await sleep(3000);
      const refusals = (await errorReplies(admin, 'NOPERM')) - before;
      // Without the back-off BullMQ fetched again at once: thousands of refusals in 3 s.
      assert.ok(refusals > 0 && refusals < 60, `${refusals} refused calls in 3 s`);
      const paused = logger.lines.filter((l) => l.level === 'error' && l.msg.includes('worker "video" paused'));
      assert.equal(paused.length, 1, JSON.stringify(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)));
      assert.equal(paused[0]!.obj.code, 'E_REDIS_NOPERM');
      assert.ok(paused[0]!.msg.includes(`ACL SETUSER narrow on ~${prefix}:* &${prefix}:* +@all -@dangerous`), paused[0]!.msg);

      // A producer under the same user gets the typed error too, never a raw ReplyError.
      const add = await kit
        .queue('video', { onRedisDown: 'reject' })
        .add('x', { n: 0 })
        .then(
          () => null,
          (e: unknown) => e,
        );
      assertTyped(add);

      // The fix the error names, run by an admin: the worker takes jobs again without a restart.
      await admin.call('ACL', 'SETUSER', 'narrow', `~${prefix}:*`, `&${prefix}:*`);
      const job = await kit.queue('video').add('enhance', { n: 7 });
      assert.equal(job.via, 'redis');
      await waitFor(() => seen.includes(7), 40_000, 'the worker ran the job after the ACL fix', 100);
      await worker.close();
    } finally {
      await kit.close();
    }
  });

  test('OOM (noeviction, maxmemory reached): locks refuse with a typed error, job state and cache degrade, nothing raw', async () => {
    const prefix = randomPrefix('oom');
    const logger = recordingLogger();
    const kit = await kitOn(server.url, prefix, logger);
    try {
      const ns = kit.cache.namespace<string>('c', { ttl: '1m' });
      await ns.set('before', 'kept');
      const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
      await admin.call('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      await admin.call('CONFIG', 'SET', 'maxmemory', String(used + 1024 * 1024));
      // Fill it (the admin writes outside the kit's prefix, inside Redis so no large request
      // buffer counts in used_memory) with big then small values until Redis refuses writes.
      for (const size of [65_536, 1024, 64]) {
        for (let i = 0; ; i++) {
          const full = await admin.eval("return redis.call('SET', KEYS[1], string.rep('x', tonumber(ARGV[1])))", 1, `filler:${size}:${i}`, size).then(
            () => false,
            (e: Error) => /OOM/.test(e.message),
          );
          if (full) break;
          assert.ok(i < 100_000, 'Redis never refused a write');
        }
      }

      const lockErr = await kit.lock.acquire('l', { ttl: 1000 }).then(
        () => null,
        (e: unknown) => e,
      );
      assertTyped(lockErr);
      assert.ok(lockErr instanceof RedisOutOfMemoryError, `got ${lockErr.name}: ${lockErr.message}`);
      assert.equal(lockErr.code, 'E_REDIS_OOM');
      assert.match(lockErr.message, /maxmemory/);
      assert.equal(await admin.exists(`${prefix}:lock:{lock:l}:h`), 0, 'nothing granted');

      // Job state: persistence paused, the job still runs (DESIGN.md), written back later.
      const record = await kit.jobs.store.create({ kind: 'render' });
      assert.equal(kit.jobs.store.pendingWrites, 1);
      assert.equal((await kit.jobs.store.get(record.id))?.id, record.id);

      // Cache: the write is skipped, reads still work.
      await ns.set('during', 'x');
      assert.equal(await ns.get('before'), 'kept');

      // Rate limits: the onRedisDown policy decides (a refusal stays a result, never a throw).
      const limited = await kit.rateLimiter({ limit: 5, windowMs: 60_000, onRedisDown: 'local' }).consume('u');
      assert.equal(limited.allowed, true);
      assert.notEqual(limited.decidedBy, 'redis');

      // Queue add with the reject policy: a typed error.
      const addErr = await kit
        .queue('q', { onRedisDown: 'reject' })
        .add('j', { a: 1 })
        .then(
          () => null,
          (e: unknown) => e,
        );
      assertTyped(addErr);

      // Memory freed: the record goes back to Redis on the next write, locks are granted again.
      // The connection never dropped, so no reconnect triggers the write-back: the store retries by itself.
      await sleep(2500);
      assert.equal(kit.jobs.store.pendingWrites, 1, 'still refused while memory is full');
      await admin.call('CONFIG', 'SET', 'maxmemory', '0');
      await waitFor(() => kit.jobs.store.pendingWrites === 0, 8000, 'the record written back', 50);
      assert.equal(await admin.exists(`${prefix}:job:{${record.id}}`), 1);
      const warns = logger.lines.filter((l) => l.level === 'warn' && /job/.test(l.msg));
      assert.equal(warns.length, 1, `one warning for the pause: ${JSON.stringify(warns.map((w) => w.msg))}`);
      assert.equal(warns[0]!.obj.reason, 'OOM');
      const lock = await kit.lock.acquire('l2', { ttl: 1000, wait: 3000 });
      await lock.release();
    } finally {
      await admin.call('CONFIG', 'SET', 'maxmemory', '0');
      await admin.flushall();
      await kit.close();
    }
  });

  test('a replica (READONLY): found by ROLE at connect, locks refuse with a typed error, job state degrades', async () => {
    const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(server.port)] });
    const logger = recordingLogger();
    const kit = await kitOn(replica.url, randomPrefix('ro'), logger);
    try {
      // restartGuard 0: a replica started this second would otherwise answer with the guard, before any write.
      const lockErr = await kit.lock.acquire('l', { ttl: 1000, restartGuard: 0 }).then(
        () => null,
        (e: unknown) => e,
      );
      assertTyped(lockErr);
      // The ROLE check at connect sees the replica before any write (WRONG_ROLE); a master demoted
      // later answers READONLY, mapped to RedisReadOnlyError. Either way: typed, never a grant.
      assert.ok(
        lockErr instanceof RedisUnavailableError && (lockErr.reason === 'WRONG_ROLE' || lockErr instanceof RedisReadOnlyError),
        `got ${lockErr.name}: ${lockErr.message}`,
      );
      assert.equal(kit.mode, 'degraded', 'a replica is never "connected"');
      const record = await kit.jobs.store.create({ kind: 'render' });
      assert.equal(kit.jobs.store.pendingWrites, 1, 'kept in memory until a writable Redis is back');
      assert.equal(record.status, 'queued');
      const semErr = await kit.lock
        .semaphore('s', 2)
        .acquire({ ttl: 1000, restartGuard: 0 })
        .then(
          () => null,
          (e: unknown) => e,
        );
      assert.ok(semErr instanceof RedisUnavailableError);
    } finally {
      await kit.close();
      await stopRedis(replica);
    }
  });

  test('BUSY (a script running past busy-reply-threshold): locks get a typed RedisUnavailableError, the cache degrades', async () => {
    const kit = await kitOn(server.url, randomPrefix('busy'), recordingLogger());
    const blocker = new Redis({ port: server.port, host: server.host, lazyConnect: true });
    const killer = new Redis({ port: server.port, host: server.host, lazyConnect: true });
    await Promise.all([blocker.connect(), killer.connect()]);
    await admin.call('CONFIG', 'SET', 'busy-reply-threshold', '50');
    const spinning = blocker.eval('while true do end', 0).catch(() => undefined);
    try {
      await sleep(200);
      const err = await kit.lock.acquire('l', { ttl: 1000 }).then(
        () => null,
        (e: unknown) => e,
      );
      assertTyped(err);
      assert.ok(err instanceof RedisUnavailableError, `got ${err.name}: ${err.message}`);
      // BUSY from the lock's own call, or from the health probe's PING that saw it first.
      assert.equal(err.reason, 'BUSY');
      assert.match(err.message, /SCRIPT KILL|busy/i);
      assert.equal(await kit.cache.namespace<string>('c', { ttl: '1m' }).get('k'), undefined);
    } finally {
      await killer.call('SCRIPT', 'KILL').catch(() => undefined);
      await spinning;
      await admin.call('CONFIG', 'SET', 'busy-reply-threshold', '5000').catch(() => undefined);
      blocker.disconnect();
      killer.disconnect();
      await kit.close();
    }
  });

  test("NOPERM on a lock: a typed error, never a local grant even with fallback: 'local'", async () => {
    const prefix = randomPrefix('nl');
    await admin.call(
      'ACL',
      'SETUSER',
      'noscript',
      'on',
      '>pw',
      'resetkeys',
      `~${prefix}:*`,
      'resetchannels',
      `&${prefix}:*`,
      '+@all',
      '-@dangerous',
      '-@scripting',
    );
    const kit = await kitOn(`redis://noscript:pw@127.0.0.1:${server.port}`, prefix, recordingLogger());
    try {
      const err = await kit.lock.acquire('x', { ttl: 1000, fallback: 'local' }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof RedisPermissionError, `got ${String(err)}`);
      assert.match(err.command, /^EVAL/);
    } finally {
      await kit.close();
    }
  });

  test('NOPERM inside a script (Redis 7.0 answers ERR, not NOPERM): still a RedisPermissionError', async () => {
    const prefix = randomPrefix('ns');
    await admin.call('ACL', 'SETUSER', 'noset', 'on', '>pw', 'resetkeys', `~${prefix}:*`, 'resetchannels', `&${prefix}:*`, '+@all', '-@dangerous', '-set');
    const kit = await kitOn(`redis://noset:pw@127.0.0.1:${server.port}`, prefix, recordingLogger());
    try {
      // restartGuard 0: straight to the script's SET, which this user may not run.
      const err = await kit.lock.acquire('x', { ttl: 1000, restartGuard: 0 }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof RedisPermissionError, `got ${String(err)}`);
      assert.match(err.command, /^a command inside EVAL/);
      assert.match(err.message, /ACL SETUSER noset on/);
    } finally {
      await kit.close();
    }
  });
});

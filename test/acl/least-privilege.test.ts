import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createRedkit, LockBusyError, RedisPermissionError, type Redkit, type JobContext, type Logger } from '../../src/index.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, waitFor } from '../helpers/util.js';

/** A logger that keeps every line, to assert that nothing was refused along the way. */
function recordingLogger(): Logger & { lines: Array<{ level: string; msg: string; obj: object }> } {
  const lines: Array<{ level: string; msg: string; obj: object }> = [];
  const at =
    (level: string) =>
    (obj: object, msg = '') => {
      lines.push({ level, msg, obj });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * The README's ACL line (section "Least privilege"), for `prefix`: keys and channels under it,
 * every command but @dangerous.
 */
function readmeAclLine(user: string, password: string, prefix: string): string[] {
  return ['ACL', 'SETUSER', user, 'on', `>${password}`, 'resetkeys', `~${prefix}:*`, 'resetchannels', `&${prefix}:*`, '+@all', '-@dangerous'];
}

describe('least privilege: every capability under `+@all -@dangerous` scoped to the prefix', () => {
  let server: RedisServer;
  let admin: Redis;
  let kit: Redkit;
  let other: Redkit;
  const prefix = randomPrefix('acl');
  const logger = recordingLogger();
  before(async () => {
    server = await startRedis();
    // The admin (default user) only creates the ACL user and checks what landed: the kit never uses it.
    admin = new Redis({ port: server.port, host: server.host, lazyConnect: true });
    await admin.connect();
    const [cmd, ...args] = readmeAclLine('app', 'app-pw', prefix);
    await admin.call(cmd!, ...args);
    const options = {
      url: `redis://app:app-pw@127.0.0.1:${server.port}`,
      keyPrefix: prefix,
      connectTimeoutMs: 2000,
      commandTimeoutMs: 1000,
      healthIntervalMs: 200,
      env: {},
      backoff: { baseMs: 20, maxMs: 200 },
    };
    kit = await createRedkit({ ...options, logger });
    other = await createRedkit({ ...options, logger });
    assert.equal(kit.mode, 'redis');
    assert.equal(kit.config.prefix, prefix);
  });
  after(async () => {
    await kit?.close();
    await other?.close();
    admin?.disconnect();
    await stopRedis(server);
  });

  test('the user really lacks @dangerous: INFO is refused to it', async () => {
    await assert.rejects(kit.redis!.info('server'), /NOPERM/);
  });

  test('cache: set, get, getOrSet go to Redis', async () => {
    const ns = kit.cache.namespace<{ n: number }>('acl', { ttl: '1m' });
    await ns.set('a', { n: 1 });
    assert.deepEqual(await ns.get('a'), { n: 1 });
    assert.deepEqual(await ns.getOrSet('b', async () => ({ n: 2 })), { n: 2 });
    assert.deepEqual(await other.cache.namespace<{ n: number }>('acl', { ttl: '1m' }).get('b'), { n: 2 }, 'another instance reads it from Redis');
    assert.equal(ns.stats().errors, 0);
  });

  test('locks: the first grant on a Redis without a marker waits out the restart guard (INFO refused)', async () => {
    const err = await kit.lock.acquire('first', { ttl: 1000 }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof LockBusyError && err.reason === 'restart-guard', `got ${String(err)}`);
    assert.ok(err.retryAfterMs > 0 && err.retryAfterMs <= 1000, `retry after ${err.retryAfterMs}`);
    const marker = await admin.get(`${prefix}:lock:marker`);
    assert.match(marker ?? '', /^[0-9a-f]{40}:\d{13}$/);
    const lock = await kit.lock.acquire('first', { ttl: 1000, wait: 5000 });
    assert.equal(await lock.release(), true);
  });

  test('locks: acquire, contention with a FIFO wait (wake-up channel), release', async () => {
    // wait: the marker is younger than this ttl, so a new name first waits out the guard.
    const first = await kit.lock.acquire('job', { ttl: 5000, wait: 6000 });
    assert.ok(first.fence > 0);
    const waiting = other.lock.acquire('job', { ttl: 5000, wait: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await first.release(), true);
    const second = await waiting;
    assert.ok(second.fence > first.fence, 'the waiter got a later fence');
    assert.equal(await second.release(), true);
  });

  test('semaphores: two slots, a third waits for a release', async () => {
    const sem = kit.lock.semaphore('gpu', 2);
    const a = await sem.acquire({ ttl: 5000, wait: 6000 });
    const b = await other.lock.semaphore('gpu', 2).acquire({ ttl: 5000 });
    const c = other.lock.semaphore('gpu', 2).acquire({ ttl: 5000, wait: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    await a.release();
    const held = await c;
    await Promise.all([b.release(), held.release()]);
  });

  test('leader election: elected, seen by another instance, resigns', async () => {
    const election = kit.leader.campaign('scheduler', { ttl: 3000 });
    await waitFor(() => election.isLeader, 5000, 'elected');
    const current = await other.leader.current('scheduler');
    assert.equal(current?.instanceId, kit.instanceId);
    await election.resign();
  });

  test('rate limits: decided by Redis, shared by both instances', async () => {
    const policy = { algorithm: 'sliding-window' as const, limit: 2, windowMs: 60_000 };
    const a = kit.rateLimiter(policy);
    const b = other.rateLimiter(policy);
    assert.equal((await a.consume('u1')).allowed, true);
    assert.equal((await b.consume('u1')).allowed, true);
    const refused = await a.consume('u1');
    assert.equal(refused.allowed, false);
    assert.equal(refused.decidedBy, 'redis');
    for (const limiter of [
      kit.rateLimiter({ algorithm: 'token-bucket', limit: 1, windowMs: 1000 }),
      kit.rateLimiter({ algorithm: 'fixed-window', limit: 1, windowMs: 1000 }),
    ]) {
      assert.equal((await limiter.consume('u2')).decidedBy, 'redis');
    }
  });

  test('job store: create, update, get in Redis, change events across instances', async () => {
    const events: string[] = [];
    const off = await other.jobs.store.subscribe((e) => events.push(`${e.id}:${e.status}`));
    const { id } = await kit.jobs.store.create({ kind: 'render', input: { p: 1 } });
    await kit.jobs.store.update(id, { status: 'submitted', externalId: 'x-1' });
    assert.equal((await other.jobs.store.get(id))?.status, 'submitted');
    assert.equal(kit.jobs.store.pendingWrites, 0, 'nothing kept in memory for later');
    assert.equal(await admin.exists(`${prefix}:job:{${id}}`), 1);
    await waitFor(() => events.includes(`${id}:submitted`), 3000, 'the update event on the other instance');
    await off();
  });

  test('queue: add stores in Redis, a worker on another instance runs it', async () => {
    const done: unknown[] = [];
    const worker = other.worker(
      'video',
      async (job: JobContext<{ n: number }>) => {
        done.push(job.data.n);
        return job.data.n * 2;
      },
      { concurrency: 2 },
    );
    await worker.ready();
    const job = await kit.queue('video').add('enhance', { n: 21 });
    assert.equal(job.via, 'redis');
    await waitFor(() => done.length === 1, 10_000, 'the worker ran the job');
    assert.deepEqual(done, [21]);
    const counts = await kit.queue('video').counts();
    assert.equal(counts.source, 'redis');
    await worker.close();
  });

  test('realtime: bus and presence across instances', async () => {
    const got: unknown[] = [];
    const off = await other.bus.subscribe<{ text: string }>('chat', (m) => got.push(m.data.text));
    assert.equal(await kit.bus.publish('chat', { text: 'hi' }), true);
    await waitFor(() => got.length === 1, 3000, 'the message on the other instance');
    await kit.presence.join('lobby', 'ada', { name: 'Ada' });
    await waitFor(async () => (await other.presence.members('lobby')).some((m) => m.id === 'ada'), 3000, 'ada seen by the other instance');
    await kit.presence.leave('lobby', 'ada');
    await off();
  });

  test('nothing along the way was refused, nor logged as a permission error', () => {
    // Debug lines may say what was skipped (INFO refused: the connection uses a marker key instead).
    const refused = logger.lines.filter(
      (l) => /NOPERM|permission|may not run|can't run/i.test(`${l.msg} ${JSON.stringify(l.obj)}`) && (l.level === 'warn' || l.level === 'error'),
    );
    assert.deepEqual(refused, []);
  });

  test('a command the user lacks is a RedisPermissionError naming it and the ACL fix', async () => {
    await admin.call('ACL', 'SETUSER', 'app', '-evalsha', '-eval');
    try {
      const err = await kit.lock.acquire('refused', { ttl: 1000 }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof RedisPermissionError, `got ${String(err)}`);
      assert.equal(err.code, 'E_REDIS_NOPERM');
      assert.match(err.command, /EVAL/);
      assert.equal(err.aclFix, `ACL SETUSER app on ~${prefix}:* &${prefix}:* +@all -@dangerous`);
      assert.ok(err.message.includes(err.aclFix));
      assert.ok(
        logger.lines.some((l) => l.level === 'error' && l.msg.includes('may not run')),
        'told once in the log',
      );
    } finally {
      await admin.call('ACL', 'SETUSER', 'app', '+evalsha', '+eval');
    }
  });
});

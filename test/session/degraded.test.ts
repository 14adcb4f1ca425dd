// The store's behaviour when Redis is paused, refuses commands (ACL, OOM), or is down while
// another instance holds a session: typed errors, no hang, nothing logged that names a session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { SessionUnavailableError } from '../../src/index.js';
import { kitFor } from '../helpers/kit.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { randomPrefix, waitFor } from '../helpers/util.js';
import { capturingLogger } from './helpers.js';
import { onEveryServer } from '../helpers/keys.js';

const data = (v: string) => ({ cookie: { maxAge: 60_000 }, v });

test('paused Redis (SIGSTOP), policy "cache": a cached session answers and a write is kept, all within the command timeout', async () => {
  const redis = await startRedis();
  const kit = await kitFor(redis, { commandTimeoutMs: 300 });
  try {
    const store = kit.sessionStore();
    await store.set('sid-p', data('before'));
    redis.pause();
    const started = performance.now();
    assert.equal((await store.get('sid-p'))?.v, 'before');
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2000, `took ${elapsed} ms`);
    // Once the probe has called Redis down, writes stay in this process (a write sent before that
    // and timed out may still be applied by Redis when it resumes: the usual timeout ambiguity).
    await waitFor(() => kit.mode === 'degraded', 5000, 'degraded mode');
    const writeStarted = performance.now();
    await store.set('sid-p', data('during'));
    assert.equal((await store.get('sid-p'))?.v, 'during');
    assert.ok(performance.now() - writeStarted < 500, 'no Redis wait once degraded');
    await assert.rejects(store.length(), (err: SessionUnavailableError) => err instanceof SessionUnavailableError && err.statusCode === 503);
    redis.resume();
    await waitFor(() => kit.mode === 'redis', 10_000, 'reconnect');
    // A change made during the outage to a session Redis still holds is not written back: Redis's copy wins.
    assert.equal((await store.get('sid-p'))?.v, 'before');
  } finally {
    redis.resume();
    await kit.close();
    await stopRedis(redis);
  }
});

test('a session created during the outage is written back with NX: a copy another instance stored in Redis wins', async () => {
  const redis = await startRedis();
  const keyPrefix = randomPrefix();
  const a = await kitFor(redis, { keyPrefix, commandTimeoutMs: 300 });
  const b = await kitFor(redis, { keyPrefix });
  try {
    const storeA = a.sessionStore();
    await b.sessionStore().set('sid-b', data('from-b'));
    redis.pause();
    await waitFor(() => a.mode === 'degraded', 5000, 'degraded mode');
    await storeA.set('sid-new', data('new-on-a'));
    await storeA.set('sid-b', data('overwrite-from-a')); // A never saw it: treated as new, and must not win
    redis.resume();
    await waitFor(() => a.mode === 'redis', 10_000, 'reconnect');
    await waitFor(async () => (await b.sessionStore().get('sid-new'))?.v === 'new-on-a', 5000, 'written back');
    assert.equal((await b.sessionStore().get('sid-b'))?.v, 'from-b');
    const pttl = await b.redis!.pttl(`${b.keys.prefix}:session:sid-new`);
    assert.ok(pttl > 50_000 && pttl <= 60_000, `the written-back session keeps its cookie TTL (pttl=${pttl})`);
  } finally {
    redis.resume();
    await a.close();
    await b.close();
    await stopRedis(redis);
  }
});

test('an ACL user without access to the session keys: SessionUnavailableError NOPERM, never a ReplyError, never the session id', async () => {
  const redis = await startRedis();
  const admin = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
  await admin.connect();
  const keyPrefix = randomPrefix();
  // May touch the kit's other keys, not its sessions.
  await admin.call('ACL', 'SETUSER', 'nosession', 'on', '>pw', `~${keyPrefix}:cache:*`, '+@all');
  const logger = capturingLogger();
  const kit = await kitFor(redis, { url: `redis://nosession:pw@127.0.0.1:${redis.port}`, keyPrefix, logger });
  try {
    for (const store of [kit.sessionStore(), kit.sessionStore({ onRedisDown: 'fail' })]) {
      for (const op of [
        () => store.get('secret-sid-1'),
        () => store.set('secret-sid-1', data('x')),
        () => store.touch('secret-sid-1', data('x')),
        () => store.destroy('secret-sid-1'),
      ]) {
        await assert.rejects(op(), (err: Error) => {
          assert.ok(err instanceof SessionUnavailableError, `${err.name}: ${err.message}`);
          assert.equal(err.reason, 'NOPERM');
          assert.ok(!err.message.includes('secret-sid-1') && !String((err as Error & { cause?: Error }).cause?.message ?? '').includes('secret-sid-1'));
          return true;
        });
      }
    }
    assert.ok(
      logger.lines.some((l) => l.includes('NOPERM')),
      'the refusal is logged',
    );
    assert.ok(!logger.lines.join('\n').includes('secret-sid-1'), 'the session id was logged');
  } finally {
    await kit.close();
    await admin.quit();
    await stopRedis(redis);
  }
});

test('Redis out of memory (maxmemory, noeviction): a write is refused with SessionUnavailableError OOM, the stored copy is kept', async () => {
  const redis = await startRedis();
  const kit = await kitFor(redis);
  try {
    const store = kit.sessionStore();
    await store.set('sid-o', data('kept'));
    await onEveryServer(kit.redis!, (server) => server.config('SET', 'maxmemory-policy', 'noeviction'));
    await onEveryServer(kit.redis!, (server) => server.config('SET', 'maxmemory', '1'));
    await assert.rejects(
      store.set('sid-o', data('x'.repeat(1000))),
      (err: Error) => err instanceof SessionUnavailableError && (err as SessionUnavailableError).reason === 'OOM',
    );
    await onEveryServer(kit.redis!, (server) => server.config('SET', 'maxmemory', '0'));
    assert.equal((await store.get('sid-o'))?.v, 'kept');
  } finally {
    await kit.close();
    await stopRedis(redis);
  }
});

test("closing the kit removes the store's reconnect listener", async () => {
  const redis = await startRedis();
  const kit = await kitFor(redis);
  const before = kit.connection.listenerCount('connected');
  kit.sessionStore();
  kit.sessionStore();
  assert.equal(kit.connection.listenerCount('connected'), before + 2);
  await kit.close();
  await stopRedis(redis);
  assert.equal(kit.connection.listenerCount('connected'), 0);
});

// A small workload on a real redis-server, then a scrape: every capability's counters moved as
// the workload says, events carried their payloads, no label carries a key or a name chosen at
// run time, and a paused Redis shows as mode changes (SIGSTOP, then SIGCONT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createGateway, LockBusyError, type RedkitEventMap } from '../../src/index.js';
import { TestClient } from '../realtime/helpers.js';
import { useRedisKit } from '../helpers/kit.js';
import { sleep, waitFor } from '../helpers/util.js';
import { parsePrometheus, valueOf, type ParsedFamily } from './parse.js';

const fixture = useRedisKit();

async function scrape(): Promise<Map<string, ParsedFamily>> {
  return parsePrometheus(await fixture.kit.metrics.prometheus());
}

test('a workload across capabilities moves the scraped counters and fires the events', async () => {
  const kit = fixture.kit;
  const seen: Array<[keyof RedkitEventMap, unknown]> = [];
  for (const name of ['hit', 'miss', 'load', 'lockAcquired', 'lockRefused', 'elected', 'revoked', 'limited', 'job', 'jobState'] as const) {
    kit.on(name, (payload) => seen.push([name, payload]));
  }

  // Cache: a miss, a load, a hit; a second namespace with no reads.
  const users = kit.cache.namespace<{ id: number }>('users', { ttl: '1m' });
  kit.cache.namespace<number>('idle', { ttl: '1m' });
  assert.equal(await users.get('user:secret-key-1'), undefined);
  assert.deepEqual(await users.getOrSet('user:secret-key-2', () => ({ id: 2 })), { id: 2 });
  assert.deepEqual(await users.get('user:secret-key-2'), { id: 2 });

  // Locks: a grant, a busy refusal, a waited grant handed over by the release.
  const held = await kit.lock.acquire('lock-name-secret', { ttl: 5000, restartGuard: 0 });
  await assert.rejects(kit.lock.acquire('lock-name-secret', { ttl: 5000, restartGuard: 0 }), LockBusyError);
  const waiting = kit.lock.acquire('lock-name-secret', { ttl: 5000, wait: 5000, restartGuard: 0 });
  await sleep(50);
  await held.release();
  await (await waiting).release();

  // Rate limit: 2 allowed, 1 limited, decided by Redis.
  const limiter = kit.rateLimiter({ name: 'api', algorithm: 'fixed-window', limit: 2, windowMs: 60_000 });
  const outcomes = [];
  for (let i = 0; i < 3; i++) outcomes.push((await limiter.consume('client-ip-secret')).allowed);
  assert.deepEqual(outcomes, [true, true, false]);

  // Job state: created (queued), then running.
  const record = await kit.jobs.store.create({ kind: 'render' });
  await kit.jobs.store.update(record.id, { status: 'running' });

  // Leader: elected, then resigned.
  const election = kit.leader.campaign('maintenance', { ttl: 2000 });
  await waitFor(() => election.isLeader, 5000, 'elected');
  await election.resign();

  // Queue: one job completes, one fails (no retry).
  const queue = kit.queue('emails');
  const worker = kit.worker<{ fail: boolean }>('emails', async (job) => {
    if (job.data.fail) throw new Error('bounce');
    return 'sent';
  });
  await worker.ready();
  await queue.add('send', { fail: false });
  await queue.add('send', { fail: true });
  // Waits on events, not scrapes: the first scrape below must read the queue's depth afresh (cached 5 s).
  await waitFor(() => seen.filter(([n]) => n === 'job').length === 2, 10_000, 'both jobs ran');
  await sleep(100); // BullMQ moves a job to completed/failed just after the handler settles
  await worker.close();

  const m = await scrape();
  const v = (name: string, labels: Record<string, string> = {}) => valueOf(m, name, labels);
  assert.equal(v('redkit_mode', { mode: 'redis' }), 1);
  assert.equal(v('redkit_connection_state', { state: 'connected' }), 1);
  assert.ok(v('redkit_ping_seconds')! >= 0, 'PING latency is reported while connected');

  assert.equal(v('redkit_cache_hits_total', { namespace: 'users' }), 1);
  assert.equal(v('redkit_cache_misses_total', { namespace: 'users' }), 2, 'the get miss and the getOrSet miss');
  assert.equal(v('redkit_cache_loads_total', { namespace: 'users' }), 1);
  assert.equal(v('redkit_cache_load_errors_total', { namespace: 'users' }), 0);
  assert.equal(v('redkit_cache_hits_total', { namespace: 'idle' }), 0, 'a namespace with no reads is reported as 0');

  assert.equal(v('redkit_lock_acquisitions_total', { kind: 'lock', outcome: 'acquired' }), 2);
  assert.equal(v('redkit_lock_acquisitions_total', { kind: 'lock', outcome: 'busy' }), 1);
  assert.equal(v('redkit_lock_handoffs_total', { kind: 'lock' }), 1, 'the waiter was handed the lock by the release');
  assert.equal(v('redkit_lock_wait_seconds_count', { kind: 'lock', outcome: 'acquired' }), 2);
  assert.ok(v('redkit_lock_wait_seconds_sum', { kind: 'lock', outcome: 'acquired' })! >= 0.04, 'the waited grant waited ~50 ms');

  assert.equal(v('redkit_ratelimit_decisions_total', { outcome: 'allowed', decided_by: 'redis' }), 2);
  assert.equal(v('redkit_ratelimit_decisions_total', { outcome: 'limited', decided_by: 'redis' }), 1);

  assert.equal(v('redkit_job_transitions_total', { status: 'queued' }), 1);
  assert.equal(v('redkit_job_transitions_total', { status: 'running' }), 1);

  assert.equal(v('redkit_leader_elections_total', { role: 'maintenance' }), 1);
  assert.equal(v('redkit_leader_revocations_total', { role: 'maintenance', reason: 'resigned' }), 1);
  assert.equal(v('redkit_leader_leading', { role: 'maintenance' }), 0);
  assert.equal(v('redkit_lock_acquisitions_total', { kind: 'leader', outcome: 'acquired' }), 1, 'leader leases are counted by kind');

  assert.equal(v('redkit_queue_jobs', { queue: 'emails', state: 'completed' }), 1, 'depth read from BullMQ at scrape time');
  assert.equal(v('redkit_queue_jobs', { queue: 'emails', state: 'failed' }), 1);
  assert.equal(v('redkit_queue_jobs_processed_total', { queue: 'emails', outcome: 'completed' }), 1);
  assert.equal(v('redkit_queue_jobs_processed_total', { queue: 'emails', outcome: 'failed' }), 1);

  assert.ok(
    v('redkit_script_duration_seconds_count', { capability: 'lock', operation: 'acquire' })! >= 1,
    'script round trips are timed by capability and operation',
  );
  assert.ok(v('redkit_script_duration_seconds_count', { capability: 'job', operation: 'create' })! >= 1);

  // No label anywhere carries a key, a lock name or a client id.
  for (const family of m.values()) {
    for (const sample of family.samples) {
      for (const value of Object.values(sample.labels)) assert.ok(!/secret/.test(value), `${sample.name} has label value ${value}`);
    }
  }

  // Events: in-process, they carry the key where the app asked for it.
  const payloads = (name: keyof RedkitEventMap) => seen.filter(([n]) => n === name).map(([, p]) => p);
  assert.deepEqual(payloads('miss'), [
    { namespace: 'users', key: 'user:secret-key-1' },
    { namespace: 'users', key: 'user:secret-key-2' },
  ]);
  assert.deepEqual(payloads('hit'), [{ namespace: 'users', key: 'user:secret-key-2', layer: 'l2', stale: false }]);
  const [load] = payloads('load') as Array<RedkitEventMap['load']>;
  assert.equal(load!.key, 'user:secret-key-2');
  assert.equal(load!.ok, true);
  assert.deepEqual(
    payloads('lockRefused').map((p) => (p as RedkitEventMap['lockRefused']).reason),
    ['busy'],
  );
  assert.equal(payloads('lockAcquired').filter((p) => (p as RedkitEventMap['lockAcquired']).kind === 'lock').length, 2);
  assert.deepEqual(
    payloads('limited').map((p) => (p as RedkitEventMap['limited']).key),
    ['api:client-ip-secret'],
  );
  assert.deepEqual(
    payloads('jobState').map((p) => (p as RedkitEventMap['jobState']).status),
    ['queued', 'running'],
  );
  assert.deepEqual(payloads('elected'), [{ role: 'maintenance' }]);
  assert.deepEqual(
    payloads('revoked').map((p) => (p as RedkitEventMap['revoked']).resigned),
    [true],
  );
  assert.deepEqual(
    payloads('job')
      .map((p) => (p as RedkitEventMap['job']).outcome)
      .sort(),
    ['completed', 'failed'],
  );
});

test('a paused Redis shows as mode changes and the state it entered; SIGCONT brings it back', async () => {
  const kit = fixture.kit;
  const modes: Array<RedkitEventMap['mode']> = [];
  const off = kit.on('mode', (p) => modes.push(p));
  try {
    const before = await scrape();
    const degradedBefore = valueOf(before, 'redkit_mode_changes_total', { mode: 'degraded' }) ?? 0;
    fixture.server.pause();
    try {
      await waitFor(() => kit.mode === 'degraded', 5000, 'degraded');
      const during = await scrape();
      assert.equal(valueOf(during, 'redkit_mode', { mode: 'degraded' }), 1);
      assert.equal(valueOf(during, 'redkit_ping_seconds'), undefined, 'no PING latency while disconnected: absent, not 0');
    } finally {
      fixture.server.resume();
    }
    await waitFor(() => kit.mode === 'redis', 10_000, 'back to redis');
    const after = await scrape();
    assert.equal(valueOf(after, 'redkit_mode_changes_total', { mode: 'degraded' }), degradedBefore + 1);
    assert.ok((valueOf(after, 'redkit_mode_changes_total', { mode: 'redis' }) ?? 0) >= 1);
    assert.ok((valueOf(after, 'redkit_connection_state_changes_total', { state: 'disconnected' }) ?? 0) >= 1);
    assert.deepEqual(
      modes.map((p) => [p.from, p.to]),
      [
        ['redis', 'degraded'],
        ['degraded', 'redis'],
      ],
    );
  } finally {
    off();
  }
});

test('gateway connections, presence rooms and members, and closes by code are scraped', async () => {
  const kit = fixture.kit;
  const closes: number[] = [];
  const off = kit.on('gatewayClose', (p) => closes.push(p.code));
  const gateway = createGateway(kit, { allowedOrigins: null });
  const http = createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  gateway.attach(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  const url = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/ws`;
  try {
    const a = await TestClient.open(url);
    const b = await TestClient.open(url);
    await a.join('room-secret', 'member-secret-a');
    await b.join('room-secret', 'member-secret-b');
    await waitFor(() => a.list('room-secret').length === 2, 5000, 'both joined');
    let m = await scrape();
    assert.equal(valueOf(m, 'redkit_gateway_connections'), 2);
    assert.equal(valueOf(m, 'redkit_presence_rooms'), 1);
    assert.equal(valueOf(m, 'redkit_presence_members'), 2);
    a.ws.close(4000, 'bye');
    b.ws.close(1000);
    await waitFor(async () => valueOf(await scrape(), 'redkit_gateway_connections') === 0, 5000, 'both closed');
    m = await scrape();
    assert.equal(valueOf(m, 'redkit_gateway_connections_opened_total'), 2);
    assert.equal(valueOf(m, 'redkit_gateway_closes_total', { code: '4000' }), 1);
    assert.equal(valueOf(m, 'redkit_gateway_closes_total', { code: '1000' }), 1);
    await waitFor(async () => valueOf(await scrape(), 'redkit_presence_members') === 0, 5000, 'members left');
    assert.deepEqual(closes.sort(), [1000, 4000]);
  } finally {
    off();
    await gateway.close();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }
});

test('a Redis restarted empty (kill -9, start) is counted and emitted as a restart', async () => {
  const kit = fixture.kit;
  const restarts: Array<RedkitEventMap['restart']> = [];
  const off = kit.on('restart', (p) => restarts.push(p));
  try {
    await fixture.server.restart();
    await waitFor(() => restarts.length > 0, 15_000, 'restart event');
    const m = await scrape();
    const total = (valueOf(m, 'redkit_redis_restarts_total', { via: 'run_id' }) ?? 0) + (valueOf(m, 'redkit_redis_restarts_total', { via: 'marker' }) ?? 0);
    assert.equal(total, restarts.length);
    assert.ok(['run_id', 'marker'].includes(restarts[0]!.via));
  } finally {
    off();
  }
});

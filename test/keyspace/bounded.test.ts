import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { ComfyUIAdapter, RedkitThrottlerStorage, startComfyUIStub, type Redkit } from '../../src/index.js';
import { kitFor } from '../helpers/kit.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';

// Issue 14, "Bounded keys", over the whole kit: every capability runs a full workload on two
// instances sharing one prefix, then the whole keyspace is scanned. A key without a TTL must be in
// the allow-list below, each entry naming the code that bounds it (README, "Keys and their
// bounds"); for collections the bound is asserted too.

let server: RedisServer;
let a: Redkit;
let b: Redkit;
let prefix: string;
before(async () => {
  server = await startRedis();
  // The lock's restart guard refuses TTLs longer than the server's uptime (whole seconds, minus one).
  await sleep(2100);
  prefix = randomPrefix();
  a = await kitFor(server, { keyPrefix: prefix, commandTimeoutMs: 3000 });
  b = await kitFor(server, { keyPrefix: prefix, commandTimeoutMs: 3000 });
  for (const kit of [a, b]) kit.realtime.configure({ heartbeatTtlMs: 3000, reactionsIdleTtlMs: 1000 });
});
after(async () => {
  await Promise.all([a?.close(), b?.close()]);
  if (server) await stopRedis(server);
});

/** Every key of the server (SCAN, never KEYS), whatever its prefix. */
async function scanAll(redis: Redis, match = '*'): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

interface Bounded {
  /** Matches the key, after `<prefix>:`. */
  pattern: RegExp;
  /** The documented bound, for the failure message. */
  bound: string;
  /** Checks the size of a collection against its bound (the key's full name and its TYPE). */
  size?: (redis: Redis, key: string, type: string) => Promise<[number, number]>;
}

const card = async (redis: Redis, key: string, type: string): Promise<number> => {
  switch (type) {
    case 'set':
      return redis.scard(key);
    case 'zset':
      return redis.zcard(key);
    case 'list':
      return redis.llen(key);
    case 'stream':
      return redis.xlen(key);
    case 'hash':
      return redis.hlen(key);
    default:
      return 1;
  }
};
/**
 * A finished-jobs set: within `max`, and every job in it carries a retention count ≤ `max`
 * (BullMQ trims the set by the count of the job being finished, so the bound is the job's own).
 */
const retained =
  (field: 'removeOnComplete' | 'removeOnFail', max: number) =>
  async (redis: Redis, key: string, type: string): Promise<[number, number]> => {
    const ids = await redis.zrange(key, '0', '-1');
    if (type !== 'zset') return [Number.POSITIVE_INFINITY, max];
    for (const id of ids) {
      // Job options are JSON in the job hash's `opts` field.
      const opts = JSON.parse((await redis.hget(`${key.slice(0, key.lastIndexOf(':'))}:${id}`, 'opts')) ?? '{}') as Record<string, unknown>;
      const keep = opts[field] as { count?: number } | number | boolean | undefined;
      const count = typeof keep === 'number' ? keep : typeof keep === 'object' ? keep.count : undefined;
      if (count === undefined || count > max) return [Number.POSITIVE_INFINITY, max];
    }
    return [await card(redis, key, type), max];
  };
/** A job hash whose id is in one of its queue's state sets: [1, 1]; anything else: over its bound. */
async function jobInAState(redis: Redis, key: string, type: string): Promise<[number, number]> {
  const [, queue, id] = /^(.*?:queue:[^:]+):(.+)$/.exec(key) ?? [];
  // The worker still runs scheduled jobs during the scan: a job removed by retention meanwhile is gone, not unbounded.
  const gone = async (): Promise<[number, number]> => [(await redis.exists(key)) ? Number.POSITIVE_INFINITY : 0, 1];
  if (type !== 'hash' || !queue || !id || !(await redis.hexists(key, 'timestamp'))) return gone();
  for (const state of ['completed', 'failed', 'delayed', 'prioritized', 'waiting-children']) {
    if ((await redis.zscore(`${queue}:${state}`, id)) !== null) return [1, 1];
  }
  for (const state of ['wait', 'active', 'paused']) {
    if ((await redis.lpos(`${queue}:${state}`, id)) !== null) return [1, 1];
  }
  return gone();
}
/** The events stream: BullMQ trims it (approximately) to the queue's `opts.maxLenEvents`, which must be ≤ 10,000. */
async function trimmedEvents(redis: Redis, key: string, type: string): Promise<[number, number]> {
  const maxLen = Number(await redis.hget(`${key.slice(0, key.lastIndexOf(':'))}:meta`, 'opts.maxLenEvents'));
  if (type !== 'stream' || !(maxLen > 0 && maxLen <= 10_000)) return [Number.POSITIVE_INFINITY, 10_000];
  // XADD MAXLEN ~ trims whole macro nodes: allow one node (100 entries) over.
  return [await redis.xlen(key), maxLen + 100];
}
const atMost =
  (max: number) =>
  async (redis: Redis, key: string, type: string): Promise<[number, number]> => [await card(redis, key, type), max];

// Queue defaults (src/queue/redis-queue.ts toBullOptions): removeOnComplete 1000, removeOnFail 5000;
// BullMQ trims the events stream to 10,000 entries (streams.events.maxLen, approximate trimming).
const QUEUE = 'queue:[^:]+';
const ALLOWED: Bounded[] = [
  { pattern: new RegExp(`^${QUEUE}:id$`), bound: 'BullMQ job id counter: one key per queue' },
  { pattern: new RegExp(`^${QUEUE}:meta$`), bound: 'BullMQ queue settings: one small hash per queue', size: atMost(32) },
  { pattern: new RegExp(`^${QUEUE}:events$`), bound: 'BullMQ events stream: trimmed to ~10,000 (maxLenEvents)', size: trimmedEvents },
  { pattern: new RegExp(`^${QUEUE}:completed$`), bound: 'completed jobs: removeOnComplete (default 1000)', size: retained('removeOnComplete', 1000) },
  { pattern: new RegExp(`^${QUEUE}:failed$`), bound: 'failed jobs: removeOnFail (default 5000)', size: retained('removeOnFail', 5000) },
  {
    pattern: new RegExp(`^${QUEUE}:(wait|paused|active|prioritized|delayed|waiting-children|marker|pc|stalled|stalled-check)$`),
    bound: 'BullMQ job states: jobs not yet finished (each leaves on completion)',
  },
  { pattern: new RegExp(`^${QUEUE}:repeat$`), bound: 'BullMQ job schedulers: one entry per upsertScheduler id (removeScheduler deletes it)', size: atMost(1) },
  { pattern: new RegExp(`^${QUEUE}:repeat:[^:]+$`), bound: "a job scheduler's settings: one hash per scheduler id" },
  // Last of the queue entries: any other key under a queue must be a job's hash whose id is in a
  // state set above (so the set's bound covers it); scheduled runs have ids `repeat:<id>:<ms>`.
  { pattern: new RegExp(`^${QUEUE}:.+$`), bound: 'a job hash: lives only while its id is in a state set (removed with it)', size: jobInAState },
  // Written only where INFO is refused (least-privilege ACL), so not seen by this workload.
  { pattern: /^lock:marker$/, bound: 'lock data marker: one key per prefix' },
  // Presence of a room: deleted by its last leave; a dead instance's are reaped (README, Realtime).
  { pattern: /^realtime:\{[^}]*\}:(members|meta|inst:[^:]+)$/, bound: 'room presence: exists only while a member of a live instance is in the room' },
  { pattern: /^realtime:instances$/, bound: 'live instances: reaped after the heartbeat TTL', size: atMost(2) },
  { pattern: /^realtime:active-rooms$/, bound: 'occupied rooms: pruned on heartbeat and last leave' },
];

/** Keys under the prefix without a TTL that no allow-list entry covers, and bounds exceeded. */
async function audit(redis: Redis): Promise<{ keys: string[]; immortal: string[]; overBound: string[]; seen: Set<string> }> {
  const keys = await scanAll(redis);
  const immortal: string[] = [];
  const overBound: string[] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    if ((await redis.pttl(key)) !== -1) continue;
    const rest = key.startsWith(`${prefix}:`) ? key.slice(prefix.length + 1) : null;
    const entry = rest === null ? undefined : ALLOWED.find((e) => e.pattern.test(rest));
    if (!entry) {
      immortal.push(key);
      continue;
    }
    seen.add(entry.bound);
    if (entry.size) {
      const [size, max] = await entry.size(redis, key, String(await redis.type(key)));
      if (size > max) overBound.push(`${key}: ${size} > ${max} (${entry.bound})`);
    }
  }
  return { keys, immortal, overBound, seen };
}

test('a full workload of every capability leaves only keys with a TTL or a documented bound', async () => {
  const redis = a.connection.client! as Redis;

  // Cache: plain, l1, stampede lock, getOrSet, clear.
  const plain = a.cache.namespace<{ n: number }>('plain', { ttl: '1m' });
  const tiered = b.cache.namespace<string>('tiered', { ttl: '1m', l1: { maxEntries: 100, ttl: '10s' }, stampedeLock: true });
  for (let i = 0; i < 50; i++) await plain.set(`k${i}`, { n: i });
  assert.deepEqual(await plain.get('k7'), { n: 7 });
  const loads = await Promise.all(
    Array.from({ length: 10 }, () =>
      tiered.getOrSet('shared', async () => {
        await sleep(50);
        return 'v';
      }),
    ),
  );
  assert.ok(loads.every((v) => v === 'v'));
  await tiered.getOrSet('other', () => 'w');
  await plain.set('gone', { n: -1 });
  const cleared = a.cache.namespace<string>('cleared', { ttl: '1m' });
  await cleared.set('x', 'y');
  await cleared.clear();

  // Locks, a waiter handed over, a semaphore, leader campaign and resign.
  const held = await a.lock.acquire('invoice', { ttl: 1000 });
  const waiter = b.lock.acquire('invoice', { ttl: 1000, wait: 5000 });
  await sleep(50);
  await held.release();
  await (await waiter).release();
  const sem = a.lock.semaphore('gpu', 2);
  const slots = await Promise.all([sem.acquire({ ttl: 1000 }), b.lock.semaphore('gpu', 2).acquire({ ttl: 1000 })]);
  await Promise.all(slots.map((s) => s.release()));
  const election = a.leader.campaign('scheduler', { ttl: 1000 });
  await waitFor(() => election.isLeader, 5000, 'a leads');
  const rival = b.leader.campaign('scheduler', { ttl: 1000 });
  await sleep(100);
  await election.resign();
  await waitFor(() => rival.isLeader, 5000, 'b leads after a resigned');
  await rival.resign();

  // Rate limits: the three algorithms on both instances, and the throttler storage.
  for (const algorithm of ['fixed-window', 'sliding-window', 'token-bucket'] as const) {
    for (const kit of [a, b]) {
      const limiter = kit.rateLimiter({ algorithm, limit: 5, windowMs: '2s', blockMs: algorithm === 'fixed-window' ? 500 : 0 });
      for (let i = 0; i < 8; i++) await limiter.consume(`user:${i % 3}`);
      await limiter.peek('user:0');
      await limiter.reset('user:1');
    }
  }
  const throttler = new RedkitThrottlerStorage(a);
  for (let i = 0; i < 5; i++) await throttler.increment('client', 1000, 3, 500, 'default');

  // Job state: created, updated, finished (succeeded and failed).
  for (let i = 0; i < 5; i++) {
    const { id } = await a.jobs.store.create({ kind: 'render', input: { i } });
    await a.jobs.store.update(id, { status: 'running', progress: 50 });
    await a.jobs.store.update(id, { status: i % 2 ? 'succeeded' : 'failed', progress: 100 });
  }

  // The external-job runner (its job locks and tracking), one run succeeded and one failed, on the ComfyUI stub.
  const stub = await startComfyUIStub({ runMs: 100, concurrency: 2 });
  try {
    const runner = b.jobs.runner({ kind: 'comfyui', adapter: new ComfyUIAdapter({ baseUrl: stub.url }), pollIntervalMs: 50, lockTtlMs: 1000 });
    const prompt = (cls: string) => ({ prompt: { '3': { class_type: cls, inputs: {} }, '9': { class_type: 'SaveImage', inputs: {} } } });
    const ran = await Promise.all([runner.start(prompt('KSampler')), runner.start(prompt('Fail'))]);
    const finished = await Promise.all(ran.map((j) => runner.wait(j.id, 10_000)));
    assert.deepEqual(
      finished.map((j) => j.status),
      ['succeeded', 'failed'],
    );
  } finally {
    await stub.close();
  }

  // Queues: jobs processed, one failed, one delayed (still waiting at the scan).
  const queue = a.queue('video', { onRedisDown: 'reject' });
  const done: string[] = [];
  const worker = b.worker(
    'video',
    async (job) => {
      if (job.name === 'bad') throw new Error('bad input');
      done.push(String(job.id));
      return { ok: true };
    },
    { concurrency: 2 },
  );
  const events: string[] = [];
  queue.on('completed', ({ jobId }) => {
    events.push(String(jobId));
  });
  await queue.listening();
  // A scheduler running every 200 ms, kept (a live schedule) and one removed.
  await queue.upsertScheduler('tick', { every: 200 }, { name: 'tick' });
  await queue.upsertScheduler('gone', { every: 60_000 }, { name: 'gone' });
  await queue.removeScheduler('gone');
  for (let i = 0; i < 10; i++) await queue.add('enhance', { i });
  await queue.add('bad', {}, { attempts: 1 });
  await queue.add('later', {}, { delayMs: 60_000 });
  await waitFor(
    async () => {
      const c = await queue.counts();
      return c.completed >= 12 && c.failed === 1;
    },
    15_000,
    'queue jobs and two scheduled runs done',
  );
  await waitFor(() => events.length >= 12, 5000, 'completed events heard');
  // The worker stays open to the end: its heartbeat key must be bounded while it runs.

  // Sessions: set, touch, destroy.
  const sessions = a.sessionStore();
  const cookie = { maxAge: 60_000, originalMaxAge: 60_000, httpOnly: true, path: '/' };
  for (let i = 0; i < 5; i++) await sessions.set(`sid-${i}`, { cookie, user: i });
  await sessions.touch('sid-1', { cookie });
  await sessions.destroy('sid-2');

  // Realtime: bus, then presence and reactions in 1,000 rooms, joined, reacted in and left.
  const heard: unknown[] = [];
  const off = await b.bus.subscribe('news', (m) => {
    heard.push(m.data);
  });
  await a.bus.publish('news', { hello: 1 });
  await waitFor(() => heard.length === 1, 3000, 'bus message heard');
  await off();
  const realtimeKeys = async () => (await scanAll(redis, `${prefix}:realtime:*`)).length;
  await a.presence.join('warmup', 'w');
  await a.presence.leave('warmup', 'w');
  await waitFor(async () => (await scanAll(redis, `${prefix}:realtime:*warmup*`)).length === 0, 10_000, 'warm-up room expired', 100);
  const baseline = await realtimeKeys();
  const rooms = Array.from({ length: 1000 }, (_, i) => `room-${i}`);
  const unwatch = await Promise.all(rooms.map((room) => b.reactions.watch(room)));
  await Promise.all(rooms.map((room, i) => a.presence.join(room, `m${i}`)));
  await Promise.all(rooms.map((room) => a.reactions.react(room, '👍', 'm')));
  await Promise.all(rooms.map((room) => b.reactions.react(room, '🔥')));

  const busy = await audit(redis);
  assert.deepEqual(busy.immortal, [], 'every key has a TTL or an allow-listed bound (busy)');
  assert.deepEqual(busy.overBound, [], 'every allow-listed collection within its bound (busy)');
  const busyRealtime = await realtimeKeys();
  assert.ok(busyRealtime >= baseline + 3000, `the rooms wrote per-room keys (${busyRealtime})`);
  // The workload did reach each capability's keys (a check that the scan sees what it should).
  for (const part of ['cache:plain:', 'lock:', 'ratelimit:', 'job:', 'queue:video:', 'session:', 'realtime:']) {
    assert.ok(
      busy.keys.some((k) => k.startsWith(`${prefix}:`) && k.slice(prefix.length + 1).includes(part)),
      `keys of ${part} present`,
    );
  }
  assert.ok(busy.seen.has(ALLOWED[3]!.bound), 'the queue kept its completed set');

  assert.ok(busy.keys.includes(`${prefix}:queue:video:redkit:workers`), 'the live worker beats');

  await Promise.all(rooms.map((room, i) => a.presence.leave(room, `m${i}`)));
  for (const stop of unwatch) stop();
  const left = await audit(redis);
  assert.deepEqual(left.immortal, [], 'every key has a TTL or an allow-listed bound (rooms left)');
  assert.deepEqual(left.overBound, []);
  assert.deepEqual(
    left.keys.filter((k) => /:realtime:\{[^}]*\}:(members|meta|inst:[^:]+)$/.test(k)),
    [],
    'presence keys gone with the last member',
  );
  const { elapsedMs } = await waitFor(async () => (await realtimeKeys()) <= baseline, 15_000, 'realtime keys back to the baseline', 100);
  await worker.close();
  console.log(
    `# ${busy.keys.length} keys busy (${busyRealtime} realtime), realtime back to ${baseline} ${Math.round(elapsedMs)} ms after the leaves; no-TTL kinds seen:\n#   ${[...busy.seen].join('\n#   ')}`,
  );
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createGateway, type Redkit, type RealtimeGateway } from '../../src/index.js';
import { kitFor } from '../helpers/kit.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, waitFor } from '../helpers/util.js';
import { TestClient } from './helpers.js';

// Realtime state that must stay right across a Redis restart and stay bounded under churn:
// two instances (toolkits, each with its gateway on its own HTTP server) on one real redis-server.
let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await stopRedis(redis);
});

interface Instance {
  kit: Redkit;
  gateway: RealtimeGateway;
  http: Server;
  url: string;
}

async function instance(keyPrefix: string, options: { reactionsIdleTtlMs?: number; heartbeatTtlMs?: number } = {}): Promise<Instance> {
  // A loaded 2-core machine runs 1,000 joins at once here: a generous command timeout.
  const kit = await kitFor(redis, { keyPrefix, commandTimeoutMs: 3000 });
  kit.realtime.configure({ heartbeatTtlMs: 3000, ...options });
  const gateway = createGateway(kit, { ratePerSecond: 1000, rateBurst: 1000 });
  const http = createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  gateway.attach(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  return { kit, gateway, http, url: `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/ws` };
}

async function shut(i: Instance): Promise<void> {
  await i.gateway.close();
  await new Promise<void>((resolve) => i.http.close(() => resolve()));
  await i.kit.close();
}

const react = (c: TestClient, room: string, reaction: string, times: number) => {
  for (let n = 0; n < times; n++) c.send({ type: 'react', room, reaction });
};
const shows = (c: TestClient, room: string, expected: Record<string, number>) =>
  JSON.stringify(Object.entries(c.counts.get(room) ?? {}).sort()) === JSON.stringify(Object.entries(expected).sort());

test("Redis restarted empty: every instance's counts come back to all reactions ever made, counted once", async (t) => {
  const keyPrefix = randomPrefix();
  const [a, b] = await Promise.all([instance(keyPrefix), instance(keyPrefix)]);
  const ca = await TestClient.open(a.url);
  const cb = await TestClient.open(b.url);
  const cb2 = await TestClient.open(b.url);
  t.after(async () => {
    for (const c of [ca, cb, cb2]) c.close();
    await Promise.all([shut(a), shut(b)]);
  });
  await ca.join('party', 'ann');
  await cb.join('party', 'ben');
  await cb2.join('party', 'bea');
  // Each instance has seen the other's joins, so its subscriptions are live before anyone reacts.
  await waitFor(() => [ca, cb, cb2].every((c) => c.list('party').join() === 'ann,bea,ben'), 3000, 'every client sees the three members');
  react(ca, 'party', '👍', 3);
  react(cb, 'party', '👍', 2);
  react(cb2, 'party', '❤️', 1);
  const before = { '👍': 5, '❤️': 1 };
  await waitFor(
    () => [ca, cb, cb2].every((c) => shows(c, 'party', before)),
    3000,
    `every client shows 👍5 ❤️1: ${JSON.stringify([ca, cb, cb2].map((c) => [c.counts.get('party'), c.frames.filter((f) => f.type === 'error')]))}`,
  );

  await redis.kill();
  await waitFor(() => a.kit.mode === 'degraded' && b.kit.mode === 'degraded', 5000, 'both degraded');
  // Reactions made while Redis is down are counted where they were made and added once on recovery.
  react(ca, 'party', '🎉', 2);
  await waitFor(() => shows(ca, 'party', { ...before, '🎉': 2 }), 2000, 'a counts its own reactions while down');

  await redis.start();
  await waitFor(() => a.kit.mode === 'redis' && b.kit.mode === 'redis', 10_000, 'both reconnected');
  const reconnectedAt = performance.now();
  const all = { '👍': 5, '❤️': 1, '🎉': 2 };
  await waitFor(
    () => [ca, cb, cb2].every((c) => shows(c, 'party', all)),
    5000,
    `every client shows 👍5 ❤️1 🎉2 (a: ${JSON.stringify(ca.counts.get('party'))}, b: ${JSON.stringify(cb.counts.get('party'))})`,
  );
  const convergedMs = performance.now() - reconnectedAt;
  assert.deepEqual(await a.kit.reactions.counts('party'), all);
  assert.deepEqual(await b.kit.reactions.counts('party'), all);
  // Nothing moves afterwards (a later re-assert, e.g. on a resubscribe, adds nothing).
  react(cb, 'party', '👍', 1);
  await waitFor(() => [ca, cb, cb2].every((c) => shows(c, 'party', { ...all, '👍': 6 })), 3000, 'a reaction after recovery counts once');
  assert.deepEqual(await a.kit.reactions.counts('party'), { ...all, '👍': 6 });
  console.log(`# counts converged ${Math.round(convergedMs)} ms after both instances reconnected`);
  assert.ok(convergedMs < 2000, `converged ${Math.round(convergedMs)} ms after the reconnect (target 1 s; bound 2 s for a loaded machine)`);
});

test('1,000 rooms joined, reacted in and left: every realtime key has a TTL or a bound, and the key count returns to baseline', async (t) => {
  const keyPrefix = randomPrefix();
  const idleMs = 1000;
  const [a, b] = await Promise.all([instance(keyPrefix, { reactionsIdleTtlMs: idleMs }), instance(keyPrefix, { reactionsIdleTtlMs: idleMs })]);
  t.after(async () => {
    await Promise.all([shut(a), shut(b)]);
  });
  const admin = a.kit.connection.client!;
  const scan = async () => {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await admin.scan(cursor, 'MATCH', `${keyPrefix}:realtime:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  };
  // Sets whose bound the code enforces (README, "Keys and their bounds"): live instances, occupied rooms.
  const bounded = new Set([`${keyPrefix}:realtime:instances`, `${keyPrefix}:realtime:active-rooms`]);
  await a.kit.presence.join('warmup', 'w');
  await a.kit.presence.leave('warmup', 'w');
  const baseline = (await scan()).filter((k) => !k.includes('warmup')).length;

  const rooms = Array.from({ length: 1000 }, (_, i) => `room-${i}`);
  const watchers = await Promise.all(rooms.map((room) => b.kit.reactions.watch(room)));
  await Promise.all(rooms.map((room, i) => a.kit.presence.join(room, `m${i}`)));
  await Promise.all(rooms.map((room) => a.kit.reactions.react(room, '👍', 'm')));
  await Promise.all(rooms.map((room) => b.kit.reactions.react(room, '🔥')));
  const busy = await scan();
  assert.ok(busy.length >= baseline + 3000, `busy keyspace has per-room keys (${busy.length})`);
  const noTtl = async (keys: string[]) => {
    const ttls = await Promise.all(keys.map((k) => admin.pttl(k)));
    return keys.filter((k, i) => ttls[i] === -1 && !bounded.has(k) && !/:\{[^}]*\}:(members|meta|inst:[^:]+)$/.test(k));
  };
  // Presence keys of a room exist only while a live instance holds a member there (reaped otherwise).
  assert.deepEqual(await noTtl(busy), [], 'every other key has a TTL');

  await Promise.all(rooms.map((room, i) => a.kit.presence.leave(room, `m${i}`)));
  for (const unwatch of watchers) unwatch();
  const left = await scan();
  assert.deepEqual(
    left.filter((k) => /:(members|meta|inst:[^:]+)$/.test(k)),
    [],
    'presence keys are gone with the last member',
  );
  assert.deepEqual(await noTtl(left), [], 'what is left has a TTL or a bound');
  assert.equal(await admin.zcard(`${keyPrefix}:realtime:active-rooms`), 0, 'active rooms pruned on leave');
  assert.equal(await admin.scard(`${keyPrefix}:realtime:instance:${a.kit.instanceId}:rooms`), 0, "the instance's rooms pruned on leave");
  const { elapsedMs } = await waitFor(async () => (await scan()).length <= baseline, idleMs + 5000, 'the realtime keyspace back to its baseline', 100);
  console.log(
    `# ${busy.length} realtime keys busy, ${left.length} right after leaving (reaction counts, idle TTL ${idleMs} ms), ${baseline} after ${Math.round(elapsedMs)} ms`,
  );
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';
import { getJson, startServer, TestClient, type ServerProcess } from './helpers.js';

// Two reference-server processes (`node dist/app/main.js`) on one real redis-server.
const TTL_MS = 2000;
let redis: RedisServer;
let s1: ServerProcess;
let s2: ServerProcess;
const clients: TestClient[] = [];

before(async () => {
  redis = await startRedis();
  const env = {
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: randomPrefix(),
    PRESENCE_HEARTBEAT_TTL_MS: String(TTL_MS),
    REDIS_CONNECT_TIMEOUT_MS: '2000',
    REDIS_COMMAND_TIMEOUT_MS: '500',
    WS_RATE_PER_SECOND: '100',
    WS_RATE_BURST: '100',
  };
  [s1, s2] = await Promise.all([startServer(env), startServer(env)]);
});

after(async () => {
  for (const c of clients) c.close();
  await Promise.all([s1?.stop(), s2?.stop()]);
  await stopRedis(redis);
});

const ROOM = 'lobby';
const same = (list: TestClient[], expected: string[]) => list.every((c) => c.list(ROOM).join() === expected.join());

/** Waits until every client shows `expected`; returns ms from `since` to the last client's change. */
async function converge(list: TestClient[], expected: string[], since: number, timeoutMs: number, what: string): Promise<number> {
  await waitFor(
    () => same(list, expected),
    timeoutMs,
    `${what}: every client shows [${expected.join(',')}] (one shows [${list
      .find((c) => c.list(ROOM).join() !== expected.join())
      ?.list(ROOM)
      .join()}])`,
    2,
  );
  return Math.max(...list.map((c) => c.changedAt)) - since;
}

test('50 clients on two instances see the same member list within 200 ms of each join and leave', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) {
    const c = await TestClient.open(i % 2 === 0 ? s1.wsUrl : s2.wsUrl);
    clients.push(c);
    ids.push(`m${String(i).padStart(2, '0')}`);
  }
  assert.notEqual(clients[0]!.hello!.instanceId, clients[1]!.hello!.instanceId);
  const latencies: number[] = [];
  for (let i = 0; i < 50; i++) {
    const start = performance.now();
    clients[i]!.send({ type: 'join', room: ROOM, id: ids[i], name: `Member ${i}` });
    // Clients that joined already must see it; the joiner gets it in its snapshot.
    latencies.push(await converge(clients.slice(0, i + 1), ids.slice(0, i + 1).sort(), start, 5000, `join ${i}`));
  }
  for (let i = 49; i >= 40; i--) {
    const start = performance.now();
    clients[i]!.send({ type: 'leave', room: ROOM });
    latencies.push(await converge(clients.slice(0, i), ids.slice(0, i).sort(), start, 5000, `leave ${i}`));
  }
  for (let i = 40; i < 50; i++) {
    const start = performance.now();
    clients[i]!.send({ type: 'join', room: ROOM, id: ids[i], name: `Member ${i}` });
    latencies.push(await converge(clients.slice(0, i + 1), ids.slice(0, i + 1).sort(), start, 5000, `rejoin ${i}`));
  }
  latencies.sort((a, b) => a - b);
  console.log(`# 70 joins/leaves seen by every client: p50 ${latencies[35]!.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`);
  assert.ok(latencies.at(-1)! <= 200, `slowest join/leave reached every client in ${latencies.at(-1)!.toFixed(1)} ms`);
});

test('Redis killed: each instance serves its own clients and reports degraded; Redis back: converged within 2 s, no restart', async () => {
  const all = ids();
  const onS1 = clients.filter((_, i) => i % 2 === 0);
  const onS2 = clients.filter((_, i) => i % 2 === 1);
  clients[0]!.send({ type: 'react', room: ROOM, reaction: '👍' });
  await waitFor(() => clients.every((c) => c.counts.get(ROOM)?.['👍'] === 1), 2000, 'first reaction everywhere');

  await redis.kill();
  await waitFor(
    async () => (await getJson(`${s1.url}/api/health`)).body.status === 'degraded' && (await getJson(`${s2.url}/api/health`)).body.status === 'degraded',
    5000,
    'both report degraded',
  );
  const health = await getJson(`${s1.url}/api/health`);
  assert.equal(health.body.status, 'degraded');
  assert.equal(health.body.mode, 'degraded');
  await waitFor(() => clients.every((c) => c.frames.some((f) => f.type === 'status' && f.mode === 'degraded')), 3000, 'clients told degraded');

  // Each instance keeps serving its own clients: a join and a reaction on s1 reach s1's clients.
  const extra = await TestClient.open(s1.wsUrl);
  clients.push(extra);
  await extra.join(ROOM, 'zed', 'Zed while down');
  extra.send({ type: 'react', room: ROOM, reaction: '👍' });
  await waitFor(() => onS1.every((c) => c.list(ROOM).includes('zed') && c.counts.get(ROOM)?.['👍'] === 2), 3000, 's1 clients see zed and the reaction');
  // s2 cannot know yet (no shared state while Redis is down).
  assert.ok(onS2.every((c) => !c.list(ROOM).includes('zed')));
  // A leave on s2 while down.
  onS2.at(-1)!.send({ type: 'leave', room: ROOM });
  const leaver = ids()[clients.indexOf(onS2.at(-1)!)]!;
  await waitFor(() => onS2.slice(0, -1).every((c) => !c.list(ROOM).includes(leaver)), 3000, 's2 clients see the leave');

  const back = performance.now();
  await redis.start();
  // Redis came back empty: s1 re-asserts both its 👍 (before and during the outage), counted once.
  const expected = [...all.filter((id) => id !== leaver), 'zed'].sort();
  const watching = clients.filter((c) => c !== onS2.at(-1));
  await waitFor(() => same(watching, expected) && watching.every((c) => c.counts.get(ROOM)?.['👍'] === 2), 10_000, 'convergence after Redis came back', 5);
  const converged = performance.now() - back;
  console.log(`# every client converged ${converged.toFixed(0)} ms after redis-server was spawned again`);
  assert.ok(converged <= 2000 + 500, `converged in ${converged.toFixed(0)} ms (2 s after Redis accepts connections; spawning it takes part of the rest)`);
  assert.equal((await getJson(`${s1.url}/api/health`)).body.status, 'healthy');
  assert.equal((await getJson(`${s2.url}/api/health`)).body.status, 'healthy');
  assert.equal(s1.child.exitCode, null);
  assert.equal(s2.child.exitCode, null);
});

test('an instance killed with SIGKILL: its members vanish from the other within the heartbeat TTL + 1 s', async () => {
  const onS1 = clients.filter((c) => c.hello!.instanceId === clients[0]!.hello!.instanceId && c.closed === null);
  const s2Members = new Set(clients.filter((c) => c.hello!.instanceId !== clients[0]!.hello!.instanceId).flatMap((c) => c.list(ROOM)));
  await waitFor(() => onS1.every((c) => c.list(ROOM).length > 25), 3000, 's1 clients see s2 members');
  const s1Own = onS1.map((c) => c.frames.find((f) => f.type === 'snapshot')?.you as string | undefined).filter(Boolean) as string[];
  const killedAt = performance.now();
  await s2.kill();
  await waitFor(() => onS1.every((c) => c.list(ROOM).join() === [...s1Own].sort().join()), TTL_MS + 5000, 'only s1 members left', 5);
  const vanished = performance.now() - killedAt;
  console.log(`# s2's members vanished from s1's clients ${vanished.toFixed(0)} ms after SIGKILL (ttl ${TTL_MS} ms)`);
  assert.ok(vanished <= TTL_MS + 1000, `vanished after ${vanished.toFixed(0)} ms`);
  assert.ok(s2Members.size > s1Own.length);
  const room = await getJson(`${s1.url}/api/realtime/rooms/${ROOM}`);
  assert.deepEqual(
    room.body.members.map((m: { id: string }) => m.id),
    [...s1Own].sort(),
  );
});

function ids(): string[] {
  return Array.from({ length: 50 }, (_, i) => `m${String(i).padStart(2, '0')}`);
}

void sleep;

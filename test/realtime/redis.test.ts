import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redkit } from '../../src/index.js';
import { kitFor } from '../helpers/kit.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';

// Several toolkits in one process on one real redis-server: each stands for an instance.
let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await stopRedis(server);
});

async function instances(n: number, ttlMs = 1500): Promise<Redkit[]> {
  const keyPrefix = randomPrefix();
  const kits = await Promise.all(Array.from({ length: n }, (_, i) => kitFor(server, { keyPrefix, instanceId: `i${i}-${keyPrefix}` })));
  for (const kit of kits) kit.realtime.configure({ heartbeatTtlMs: ttlMs });
  return kits;
}

const ids = (members: Array<{ id: string }>) => members.map((m) => m.id);

test('bus: messages cross instances once, tagged with the sender; subscriptions survive a Redis restart', async () => {
  const [a, b] = await instances(2);
  const atA: string[] = [];
  const atB: string[] = [];
  await a!.bus.subscribe<{ n: number }>('news', (m) => atA.push(`${m.from === a!.instanceId ? 'a' : 'b'}${m.data.n}`));
  await b!.bus.subscribe<{ n: number }>('news', (m) => atB.push(`${m.from === a!.instanceId ? 'a' : 'b'}${m.data.n}`));
  assert.equal(await a!.bus.publish('news', { n: 1 }), true);
  assert.equal(await b!.bus.publish('news', { n: 2 }), true);
  await waitFor(() => atA.length === 2 && atB.length === 2, 2000, 'both messages everywhere');
  assert.deepEqual(atA.sort(), ['a1', 'b2']);
  assert.deepEqual(atB.sort(), ['a1', 'b2']);

  let resynced = 0;
  b!.bus.onResync(() => {
    resynced++;
  });
  await server.restart();
  // Degraded meanwhile: local handlers still get local messages.
  await waitFor(() => a!.mode === 'redis' && b!.mode === 'redis' && resynced > 0, 5000, 'reconnect and resubscribe');
  await waitFor(
    async () => {
      await a!.bus.publish('news', { n: 3 });
      return atB.includes('a3');
    },
    3000,
    'a message after the restart',
  );
  await Promise.all([a!.close(), b!.close()]);
});

test('presence: a member on two instances counts once and leaves with its last connection anywhere', async () => {
  const [a, b] = await instances(2);
  const unwatch = await b!.presence.watch('room');
  const left: string[] = [];
  b!.presence.on('left', (e) => left.push(e.memberId));
  await a!.presence.join('room', 'ada', { name: 'Ada' });
  await b!.presence.join('room', 'ada', { name: 'Ada' });
  await a!.presence.join('room', 'bob');
  await waitFor(() => ids(b!.presence.view('room')).join() === 'ada,bob', 2000, 'b sees ada and bob');
  assert.deepEqual(ids(await a!.presence.members('room')), ['ada', 'bob']);
  await a!.presence.leave('room', 'ada');
  await sleep(100);
  assert.deepEqual(ids(await b!.presence.members('room')), ['ada', 'bob'], 'ada is still held by b');
  await b!.presence.leave('room', 'ada');
  await waitFor(() => ids(b!.presence.view('room')).join() === 'bob', 2000, 'ada gone');
  assert.deepEqual(left, ['ada']);
  unwatch();
  await Promise.all([a!.close(), b!.close()]);
});

test('presence: a closed instance withdraws its members at once; one that stops beating is reaped within the TTL', async () => {
  const ttl = 1200;
  const [a, b, c] = await instances(3, ttl);
  await b!.presence.watch('r');
  await a!.presence.join('r', 'from-a');
  await c!.presence.join('r', 'from-c');
  await waitFor(() => ids(b!.presence.view('r')).join() === 'from-a,from-c', 2000, 'b sees both');
  await a!.close();
  await waitFor(() => ids(b!.presence.view('r')).join() === 'from-c', 1000, 'a withdrew on close');

  // c "dies": its connection is cut without a goodbye (the multi-process test does a real SIGKILL).
  const diedAt = performance.now();
  c!.connection.client!.disconnect(false);
  const { elapsedMs } = await waitFor(() => ids(b!.presence.view('r')).length === 0, ttl + 3000, 'c reaped');
  assert.ok(performance.now() - diedAt <= ttl + 1000, `reaped ${Math.round(performance.now() - diedAt)} ms after c stopped beating (ttl ${ttl} ms)`);
  void elapsedMs;
  // c comes back by itself (ioredis reconnects): its heartbeat had expired, so it re-announces.
  await c!.connection.client!.connect().catch(() => undefined);
  await waitFor(() => ids(b!.presence.view('r')).join() === 'from-c', 5000, 'c re-announced after coming back');
  await Promise.all([b!.close(), c!.close()]);
});

test('Redis restarted empty: every instance re-announces and re-reads; reactions counted while down are added', async () => {
  const [a, b] = await instances(2, 3000);
  await a!.presence.watch('lobby');
  await b!.presence.watch('lobby');
  await a!.reactions.watch('lobby');
  await b!.reactions.watch('lobby');
  await a!.presence.join('lobby', 'ann');
  await b!.presence.join('lobby', 'ben');
  await a!.reactions.react('lobby', '🔥');
  // Both instances must have seen both joins before the kill: b's view of ann is asserted below.
  await waitFor(
    () => ids(a!.presence.view('lobby')).join() === 'ann,ben' && ids(b!.presence.view('lobby')).join() === 'ann,ben' && b!.reactions.view('lobby')['🔥'] === 1,
    2000,
    'initial state',
  );

  await server.kill();
  await waitFor(() => a!.mode === 'degraded' && b!.mode === 'degraded', 3000, 'both degraded');
  // Degraded: each instance keeps serving its own members and counts.
  await a!.presence.join('lobby', 'amy');
  await b!.presence.leave('lobby', 'ben');
  assert.equal(await a!.reactions.react('lobby', '🔥'), 2);
  assert.deepEqual(ids(await a!.presence.members('lobby')), ['amy', 'ann', 'ben']);
  assert.deepEqual(ids(await b!.presence.members('lobby')), ['ann']);

  const restartedAt = performance.now();
  await server.start();
  await waitFor(
    () => {
      const va = ids(a!.presence.view('lobby')).join();
      const vb = ids(b!.presence.view('lobby')).join();
      return va === 'amy,ann' && vb === va && a!.reactions.view('lobby')['🔥'] === 2 && b!.reactions.view('lobby')['🔥'] === 2;
    },
    8000,
    'convergence after Redis came back',
  );
  // The data died with Redis; a re-asserts its own totals (the 🔥 before the kill and the one while down), once.
  assert.deepEqual(await b!.reactions.counts('lobby'), { '🔥': 2 });
  console.log(`# converged ${Math.round(performance.now() - restartedAt)} ms after redis-server was spawned again`);
  await Promise.all([a!.close(), b!.close()]);
});

test('Redis paused (SIGSTOP): joins degrade to local, and everything converges after SIGCONT', async () => {
  const [a, b] = await instances(2, 3000);
  await a!.presence.watch('p');
  await b!.presence.watch('p');
  await a!.presence.join('p', 'one');
  await waitFor(() => ids(b!.presence.view('p')).join() === 'one', 2000, 'b sees one');
  server.pause();
  await waitFor(() => a!.mode === 'degraded' && b!.mode === 'degraded', 5000, 'both notice the pause');
  await b!.presence.join('p', 'two');
  assert.deepEqual(ids(b!.presence.view('p')), ['one', 'two']);
  server.resume();
  await waitFor(() => ids(a!.presence.view('p')).join() === 'one,two' && ids(b!.presence.view('p')).join() === 'one,two', 5000, 'converged after resume');
  await Promise.all([a!.close(), b!.close()]);
});

test('close() leaves no timers or handles behind', async () => {
  const before = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
  const [a] = await instances(1);
  await a!.presence.join('x', 'y');
  await a!.reactions.react('x', '👍');
  await a!.bus.subscribe('z', () => {});
  await a!.close();
  await waitFor(
    () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length <= before,
    2000,
    `resources back to ${before}: ${process.getActiveResourcesInfo().join(',')}`,
  );
});

test('an instance started while Redis is down serves locally, then joins the others when Redis comes up', async () => {
  const own = await startRedis();
  await own.stop();
  const keyPrefix = randomPrefix();
  const late = await kitFor(own, { keyPrefix, connectTimeoutMs: 300 });
  late.realtime.configure({ heartbeatTtlMs: 1500 });
  assert.equal(late.mode, 'degraded');
  await late.presence.join('d', 'early-bird');
  assert.deepEqual(ids(await late.presence.members('d')), ['early-bird']);
  assert.equal(await late.bus.publish('c', 1), false, 'local only while down');
  await own.start();
  const other = await kitFor(own, { keyPrefix });
  await other.presence.watch('d');
  await waitFor(() => ids(other.presence.view('d')).join() === 'early-bird', 5000, 'the member announced after Redis came up');
  await Promise.all([late.close(), other.close()]);
  await stopRedis(own);
});

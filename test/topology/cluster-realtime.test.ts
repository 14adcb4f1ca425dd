// Realtime on a Redis Cluster of its own: the bus, presence joins and leaves travel between two
// instances over sharded pub/sub (SPUBLISH, not the PUBLISH the cluster bus copies to every
// node), on rooms whose slots live on different masters; a master killed with -9 stops only its
// own rooms, which come back once its replica is promoted, without restarting anything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRedkit, silentLogger, type Redkit } from '../../src/index.js';
import type { PresenceJoinedEvent, PresenceLeftEvent } from '../../src/realtime/presence.js';
import { startCluster, type ClusterNode, type RedisCluster } from '../helpers/cluster.js';
import { adminCall, parseInfo } from '../helpers/topology-process.js';
import { randomPrefix, waitFor } from '../helpers/util.js';

let cluster: RedisCluster;
let a: Redkit;
let b: Redkit;

before(async () => {
  cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
  const prefix = randomPrefix('rt');
  const kit = () =>
    createRedkit({
      clusterNodes: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(','),
      keyPrefix: prefix,
      connectTimeoutMs: 2000,
      commandTimeoutMs: 1000,
      healthIntervalMs: 200,
      logger: silentLogger,
      env: {},
      backoff: { baseMs: 20, maxMs: 200 },
    });
  [a, b] = await Promise.all([kit(), kit()]);
});

after(async () => {
  await Promise.allSettled([a?.close(), b?.close()]);
  await cluster?.stop();
});

/** Sum of `cmdstat_<name>` calls over the live masters. */
async function calls(name: string): Promise<number> {
  await cluster.refresh();
  let total = 0;
  for (const node of cluster.masters()) {
    const info = parseInfo(await adminCall(node.port, ['INFO', 'commandstats'], { timeoutMs: 3000 }));
    const stat = info[`cmdstat_${name}`];
    if (stat) total += Number(/calls=(\d+)/.exec(stat)?.[1] ?? 0);
  }
  return total;
}

/**
 * One room per master. Room channels are hash-tagged by the room (`{room}`), a bus channel by its
 * own name (`{chat:room}`): rooms are picked whose two tags live on the same master.
 */
async function roomsOnEveryMaster(): Promise<Array<{ room: string; master: ClusterNode }>> {
  const found = new Map<number, { room: string; master: ClusterNode }>();
  for (let i = 0; found.size < 3 && i < 400; i++) {
    const room = `room-${i}`;
    const master = await cluster.nodeForKey(`{${room}}`);
    if (found.has(master.port) || (await cluster.nodeForKey(`{chat:${room}}`)).port !== master.port) continue;
    found.set(master.port, { room, master });
  }
  assert.equal(found.size, 3, 'a room on each of the 3 masters');
  return [...found.values()];
}

test('bus and presence cross instances by SPUBLISH on rooms of every shard, and survive kill -9 of a master', async () => {
  const rooms = await roomsOnEveryMaster();
  const joined: PresenceJoinedEvent[] = [];
  const left: PresenceLeftEvent[] = [];
  const received: Array<{ channel: string; data: unknown }> = [];
  b.realtime.presence.on('joined', (e) => joined.push(e));
  b.realtime.presence.on('left', (e) => left.push(e));
  for (const { room } of rooms) {
    await b.realtime.presence.watch(room);
    await b.realtime.bus.subscribe(`chat:${room}`, (m) => received.push({ channel: m.channel, data: m.data }));
  }
  const publishBefore = await calls('publish');
  const spublishBefore = await calls('spublish');

  for (const { room } of rooms) {
    await a.realtime.presence.join(room, `alice-${room}`, { name: 'Alice' });
    await a.realtime.bus.publish(`chat:${room}`, { text: `hi ${room}` });
  }
  await waitFor(() => joined.length >= 3 && received.length >= 3, 10_000, 'joins and messages of the 3 rooms reach the other instance');
  assert.deepEqual(joined.map((e) => e.room).sort(), rooms.map((r) => r.room).sort());
  assert.deepEqual(
    b.realtime.presence.view(rooms[1]!.room).map((m) => m.id),
    [`alice-${rooms[1]!.room}`],
  );
  for (const { room } of rooms) await a.realtime.presence.leave(room, `alice-${room}`);
  await waitFor(() => left.length >= 3, 10_000, 'leaves of the 3 rooms reach the other instance');

  // 3 joins + 3 messages + 3 leaves, each one SPUBLISH on the shard of its room; no PUBLISH at all.
  assert.ok((await calls('spublish')) - spublishBefore >= 9, 'SPUBLISH carried the events');
  assert.equal((await calls('publish')) - publishBefore, 0, 'no classic PUBLISH (the cluster bus would copy it to every node)');

  // kill -9 the master of rooms[0]: rooms[1] and rooms[2] keep working while it is failed over.
  const [dead, ...alive] = rooms;
  const killedAt = performance.now();
  await dead!.master.kill();
  received.length = 0;
  joined.length = 0;
  for (const { room } of alive) await a.realtime.bus.publish(`chat:${room}`, { text: 'still here' });
  await waitFor(() => received.length >= 2, 10_000, 'bus channels of the live shards work while one master is down');
  const liveMs = performance.now() - killedAt;
  for (const { room } of alive) await a.realtime.presence.join(room, `bob-${room}`);
  await waitFor(() => joined.length >= 2, 10_000, 'presence of the live shards works while one master is down');
  const joinsMs = performance.now() - killedAt;

  await cluster.waitForPromotion(dead!.master, 30_000);
  const promotedMs = performance.now() - killedAt;
  // Only a re-subscription on the promoted replica delivers these: nothing re-reads a bus channel.
  const deadRoom = dead!.room;
  await waitFor(
    async () => {
      await a.realtime.bus.publish(`chat:${deadRoom}`, { text: 'back' }).catch(() => false);
      return received.some((m) => m.channel === `chat:${deadRoom}`);
    },
    30_000,
    'the dead shard room receives bus messages again after promotion',
    250,
  );
  const busBackMs = performance.now() - killedAt;
  await waitFor(
    async () => {
      await a.realtime.presence.join(deadRoom, `carol-${deadRoom}`).catch(() => undefined);
      return b.realtime.presence.view(deadRoom).some((m) => m.id === `carol-${deadRoom}`);
    },
    30_000,
    'presence of the dead shard room works again after promotion',
    250,
  );
  console.log(
    `# cluster realtime: live shards' bus delivered ${liveMs.toFixed(0)} ms after kill -9, their joins by ${joinsMs.toFixed(0)} ms; ` +
      `promotion seen at ${promotedMs.toFixed(0)} ms; ` +
      `the dead shard's bus channel delivered again at ${busBackMs.toFixed(0)} ms (node timeout 2000 ms)`,
  );
});

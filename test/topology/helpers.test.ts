// The topology helpers themselves, checked from outside with raw ioredis clients (tests may create
// clients directly; only src/ goes through src/connection): a real cluster and a real Sentinel set
// start, serve, fail over, and leave no process behind.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { startCluster, type RedisCluster } from '../helpers/cluster.js';
import { startSentinelSet, type SentinelSet } from '../helpers/sentinel.js';
import { adminCall, liveTopologyProcesses, parseInfo } from '../helpers/topology-process.js';
import { randomPrefix, waitFor } from '../helpers/util.js';

/** True when something accepts TCP connections on `port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** True while a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Retries `fn` until it succeeds (a client riding out a failover), returning how long it took. */
async function eventually<T>(fn: () => Promise<T>, timeoutMs: number, what: string): Promise<{ value: T; elapsedMs: number }> {
  return waitFor(async () => ({ ok: await fn() }), timeoutMs, what, 100).then(({ value, elapsedMs }) => ({ value: value.ok, elapsedMs }));
}

describe('test helper: Redis Cluster (3 masters, 3 replicas)', () => {
  let cluster: RedisCluster;
  let client: Cluster;
  const prefix = randomPrefix('cl');
  after(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  test('starts 6 real nodes with every slot served, and a raw ioredis Cluster uses all masters', async () => {
    cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
    console.log(`# cluster ready in ${cluster.readyMs.toFixed(0)} ms`);
    assert.equal(cluster.nodes.length, 6);
    assert.equal(cluster.masters().length, 3);
    for (const master of cluster.masters()) assert.equal(cluster.replicasOf(master).length, 1);
    for (const node of cluster.nodes) assert.ok(node.pid && alive(node.pid), `port ${node.port} runs`);
    const info = parseInfo(await adminCall(cluster.nodes[5]!.port, ['CLUSTER', 'INFO']));
    assert.equal(info.cluster_state, 'ok');
    assert.equal(info.cluster_slots_assigned, '16384');
    assert.equal(info.cluster_known_nodes, '6');

    client = new Cluster([...cluster.seeds], { clusterRetryStrategy: () => 100, redisOptions: { maxRetriesPerRequest: 2 } });
    client.on('error', () => {
      /* a killed node: the calls below retry */
    });
    const keys = Array.from({ length: 60 }, (_, i) => `${prefix}:k${i}`);
    await Promise.all(keys.map((k) => client.set(k, k)));
    assert.deepEqual(await Promise.all(keys.map((k) => client.get(k))), keys);
    for (const master of cluster.masters()) {
      assert.ok(Number(await adminCall(master.port, ['DBSIZE'])) > 0, `master ${master.port} holds some of the keys`);
    }
    // nodeForKey names the node that really holds the key.
    for (const key of keys.slice(0, 5)) {
      const node = await cluster.nodeForKey(key);
      assert.equal(node.role, 'master');
      assert.equal(await adminCall(node.port, ['GET', key]), key);
    }
    const slot = Number(await adminCall(cluster.nodes[0]!.port, ['CLUSTER', 'KEYSLOT', keys[0]!]));
    assert.equal((await cluster.masterOf(slot)).port, (await cluster.nodeForKey(keys[0]!)).port);
  });

  test('kill -9 of a master: its replica is promoted and the client writes that slot again', async () => {
    const key = `${prefix}:victim`;
    await client.set(key, 'before');
    const victim = await cluster.nodeForKey(key);
    const [replica] = cluster.replicasOf(victim);
    const killedAt = performance.now();
    await victim.kill();
    assert.equal(victim.pid, undefined);
    const promoted = await cluster.waitForPromotion(victim, 30_000);
    assert.equal(promoted.port, replica!.port);
    console.log(`# cluster: promotion seen ${(performance.now() - killedAt).toFixed(0)} ms after kill -9 (node timeout 2000 ms)`);
    assert.equal((await cluster.nodeForKey(key)).port, promoted.port);
    const { elapsedMs } = await eventually(() => client.set(key, 'after'), 20_000, 'a write to the promoted slot');
    console.log(`# cluster: write accepted ${elapsedMs.toFixed(0)} ms after the helper saw the promotion`);
    assert.equal(await adminCall(promoted.port, ['GET', key]), 'after');

    // Restarted with its nodes.conf, the old master rejoins as a replica of the promoted node.
    await victim.start();
    await waitFor(
      async () => {
        await cluster.refresh();
        return victim.role === 'replica' && victim.masterId === promoted.id;
      },
      20_000,
      'the old master to rejoin as a replica',
      100,
    );
    await cluster.waitForOk();
  });

  test("CLUSTER FAILOVER on a replica hands its master's slots over", async () => {
    const key = `${prefix}:handover`;
    await client.set(key, 'v');
    const master = await cluster.nodeForKey(key);
    const [replica] = cluster.replicasOf(master);
    await cluster.failover(replica!);
    await cluster.refresh();
    assert.equal(replica!.role, 'master');
    assert.equal(master.role, 'replica');
    assert.equal((await cluster.nodeForKey(key)).port, replica!.port);
    assert.equal((await eventually(() => client.get(key), 20_000, 'a read after the handover')).value, 'v');
  });

  test('reshard moves slots and their keys to another master', async () => {
    const key = `${prefix}:moved`;
    await client.set(key, 'kept');
    const from = await cluster.nodeForKey(key);
    const to = cluster.masters().find((m) => m !== from)!;
    const owned = async (node: typeof from) => {
      const ranges = (await adminCall(node.port, ['CLUSTER', 'SLOTS'])) as Array<[number, number, [string, number]]>;
      return ranges.filter(([, , [, port]]) => port === node.port).reduce((n, [a, b]) => n + b - a + 1, 0);
    };
    const before = await owned(to);
    // Enough slots to take every slot `from` has: the key's slot moves for sure.
    await cluster.reshard(from, to, await owned(from));
    assert.equal(await owned(from), 0);
    assert.ok((await owned(to)) > before);
    assert.equal((await cluster.nodeForKey(key)).port, to.port);
    assert.equal(await adminCall(to.port, ['GET', key]), 'kept');
    assert.equal((await eventually(() => client.get(key), 20_000, 'a read after the reshard')).value, 'kept');
  });

  test('pause (SIGSTOP) and resume of a replica', async () => {
    const replica = cluster.nodes.find((n) => n.role === 'replica')!;
    replica.pause();
    await assert.rejects(adminCall(replica.port, ['PING'], { timeoutMs: 300 }));
    replica.resume();
    assert.equal(await adminCall(replica.port, ['PING']), 'PONG');
  });

  test('stop() leaves no process and no listener behind', async () => {
    client.disconnect();
    const pids = cluster.nodes.map((n) => n.pid!);
    const before = liveTopologyProcesses();
    await cluster.stop();
    for (const pid of pids) assert.ok(!alive(pid), `pid ${pid} is gone`);
    for (const node of cluster.nodes) assert.equal(await listening(node.port), false, `port ${node.port} is closed`);
    assert.equal(liveTopologyProcesses(), before - pids.length);
    await cluster.stop();
  });
});

describe('test helper: Sentinel (1 master, 2 replicas, 3 sentinels)', () => {
  let set: SentinelSet;
  let client: Redis;
  const prefix = randomPrefix('sn');
  after(async () => {
    client?.disconnect();
    await set?.stop();
  });

  test('starts, every sentinel knows the set, and a sentinel-configured ioredis client writes to the master', async () => {
    set = await startSentinelSet({ replicas: 2, sentinels: 3, masterName: 'redkit-test' });
    console.log(`# sentinel set ready in ${set.readyMs.toFixed(0)} ms`);
    assert.equal(set.dataNodes.length, 3);
    assert.equal(set.sentinels.length, 3);
    const master = await set.currentMaster();
    assert.equal(master, set.dataNodes[0]);
    for (const s of set.sentinels) {
      const replicas = (await adminCall(s.port, ['SENTINEL', 'REPLICAS', 'redkit-test'])) as unknown[];
      assert.equal(replicas.length, 2);
      assert.equal(
        (await adminCall(s.port, ['SENTINEL', 'CKQUORUM', 'redkit-test'])) as string,
        'OK 3 usable Sentinels. Quorum and failover authorization can be reached',
      );
    }
    // READONLY reconnects: without them a raw client keeps writing to a demoted master for ~10 s
    // after SENTINEL FAILOVER (issue 15); this test is about the helper, not that. Not
    // failoverDetector: in ioredis 6.0.0 a +switch-master that arrives while the client is
    // reconnecting (after kill -9 of the master) ends the client for good ("Connection is closed.").
    client = new Redis({
      sentinels: [...set.sentinelAddresses],
      name: 'redkit-test',
      maxRetriesPerRequest: 3,
      sentinelRetryStrategy: () => 100,
      retryStrategy: () => 100,
      reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    });
    client.on('error', () => {
      /* a killed master: the calls below retry */
    });
    await client.set(`${prefix}:a`, '1');
    assert.equal(await adminCall(master.port, ['GET', `${prefix}:a`]), '1');
  });

  test('kill -9 of the master: the sentinels promote a replica and the client follows', async () => {
    const old = await set.currentMaster();
    const killedAt = performance.now();
    await old.kill();
    const promoted = await set.waitForNewMaster(old.port, 30_000);
    console.log(`# sentinel: new master seen ${(performance.now() - killedAt).toFixed(0)} ms after kill -9`);
    assert.notEqual(promoted.port, old.port);
    assert.equal(promoted.role, 'master');
    const { elapsedMs } = await eventually(() => client.set(`${prefix}:b`, '2'), 20_000, 'a write after the promotion');
    console.log(`# sentinel: write accepted ${elapsedMs.toFixed(0)} ms after the helper saw the new master`);
    assert.equal(await adminCall(promoted.port, ['GET', `${prefix}:b`]), '2');

    // The old master comes back empty, as a master, until a sentinel converts it to a replica.
    await old.start();
    const { elapsedMs: convertedMs } = await waitFor(
      async () => {
        await set.refresh();
        return old.role === 'replica';
      },
      30_000,
      'the restarted old master to be converted to a replica',
      100,
    );
    console.log(`# sentinel: restarted old master converted to a replica after ${convertedMs.toFixed(0)} ms`);
  });

  test('SENTINEL FAILOVER moves the master and the client follows', async () => {
    const before = await set.currentMaster();
    const startedAt = performance.now();
    const after = await set.failover(30_000);
    console.log(`# sentinel: SENTINEL FAILOVER done in ${(performance.now() - startedAt).toFixed(0)} ms`);
    assert.notEqual(after.port, before.port);
    await eventually(
      async () => {
        await client.set(`${prefix}:c`, '3');
        return (await adminCall(after.port, ['GET', `${prefix}:c`])) === '3' || Promise.reject(new Error('write went elsewhere'));
      },
      20_000,
      'a write that lands on the new master',
    );
  });

  test('stop() leaves no process and no listener behind', async () => {
    client.disconnect();
    const all = [...set.dataNodes, ...set.sentinels];
    const pids = all.map((n) => n.pid!);
    await set.stop();
    for (const pid of pids) assert.ok(!alive(pid), `pid ${pid} is gone`);
    for (const node of all) assert.equal(await listening(node.port), false, `port ${node.port} is closed`);
    assert.equal(liveTopologyProcesses(), 0);
  });
});

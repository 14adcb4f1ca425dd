// Cache and session on a real Redis Cluster (3 masters, 3 replicas): multi-key calls spread over
// every master, clear() reaching every master, L1 invalidation and the stampede lock between two
// kits, and a master killed with kill -9: the other shards keep answering, the dead shard's keys
// degrade per the cache policy, and writes work again once its replica is promoted.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRedkit, RedisUnavailableError, silentLogger, type Redkit, type RedkitOptions } from '../../src/index.js';
import { startCluster, type ClusterNode, type RedisCluster } from '../helpers/cluster.js';
import { keysEverywhere } from '../helpers/keys.js';
import { adminCall } from '../helpers/topology-process.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';

let cluster: RedisCluster;
const kits: Redkit[] = [];

async function clusterKit(options: RedkitOptions = {}): Promise<Redkit> {
  const kit = await createRedkit({
    clusterNodes: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(','),
    keyPrefix: randomPrefix(),
    connectTimeoutMs: 2000,
    commandTimeoutMs: 500,
    healthIntervalMs: 200,
    logger: silentLogger,
    env: {},
    backoff: { baseMs: 20, maxMs: 200 },
    ...options,
  } as Record<string, unknown> as RedkitOptions);
  kits.push(kit);
  return kit;
}

/** The Redis key of cache key `key` in namespace `ns`. */
const redisKey = (kit: Redkit, ns: string, key: string) => `${kit.keys.key('cache', ns)}:${key}`;

/** `perMaster` cache keys on each master (by the live cluster's own answer), keyed by master port. */
async function keysPerMaster(kit: Redkit, ns: string, perMaster: number): Promise<Map<number, string[]>> {
  const byPort = new Map<number, string[]>();
  for (let i = 0; byPort.size < 3 || [...byPort.values()].some((keys) => keys.length < perMaster); i++) {
    assert.ok(i < 1000, 'keys spread over three masters');
    const master = await cluster.nodeForKey(redisKey(kit, ns, `k${i}`));
    const keys = byPort.get(master.port) ?? [];
    if (keys.length < perMaster) keys.push(`k${i}`);
    byPort.set(master.port, keys);
  }
  return byPort;
}

before(async () => {
  cluster = await startCluster();
});

after(async () => {
  for (const kit of kits) await kit.close().catch(() => undefined);
  await cluster?.stop();
});

describe('cache on Redis Cluster', () => {
  test('getMany/setMany span all three masters, answers in the caller order', async () => {
    const kit = await clusterKit();
    const c = kit.cache.namespace<number>('many', { ttl: '1m' });
    const byPort = await keysPerMaster(kit, 'many', 3);
    assert.equal(byPort.size, 3, 'keys on three different masters');
    // Interleave masters so that the order must be restored, not merely kept per slot.
    const keys = [0, 1, 2].flatMap((j) => [...byPort.values()].map((ks) => ks[j]!));
    await c.setMany(keys.map((key, i) => ({ key, value: i })));
    for (const [port, ks] of byPort) {
      const master = cluster.nodes.find((n) => n.port === port)!;
      for (const key of ks) assert.equal((await cluster.nodeForKey(redisKey(kit, 'many', key))).port, master.port);
    }
    assert.deepEqual(await c.getMany([...keys, 'absent']), [...keys.map((_, i) => i), undefined]);
    assert.equal(c.stats().errors, 0);
  });

  test('clear() removes the namespace keys on every master, and only them', async () => {
    const kit = await clusterKit();
    const a = kit.cache.namespace<number>('clr-a', { ttl: '1m' });
    const b = kit.cache.namespace<number>('clr-b', { ttl: '1m' });
    await a.setMany(Array.from({ length: 600 }, (_, i) => ({ key: `k${i}`, value: i })));
    await b.set('k1', 1);
    await cluster.refresh();
    const pattern = `${kit.keys.key('cache', 'clr-a')}:*`;
    const perMaster = await Promise.all(cluster.masters().map(async (m) => ((await adminCall(m.port, ['KEYS', pattern])) as string[]).length));
    assert.equal(perMaster.length, 3);
    assert.ok(
      perMaster.every((n) => n > 0),
      `keys on every master: ${perMaster}`,
    );
    assert.equal(
      perMaster.reduce((x, y) => x + y, 0),
      600,
    );
    assert.equal(await a.clear(), 600);
    assert.deepEqual(await keysEverywhere(kit.redis!, `${kit.keys.key('cache', 'clr-a')}:*`), []);
    assert.equal(await b.get('k1'), 1);
  });

  test('L1 of another kit is invalidated by a set, and the stampede lock holds across kits', async () => {
    const keyPrefix = randomPrefix();
    const one = await clusterKit({ keyPrefix });
    const two = await clusterKit({ keyPrefix });
    const a = one.cache.namespace<number>('l1', { ttl: '1m', l1: true, stampedeLock: true });
    const b = two.cache.namespace<number>('l1', { ttl: '1m', l1: true, stampedeLock: true });
    await a.set('x', 1);
    // L1 fills once b's bus is live (its own probe came back through the cluster).
    await waitFor(async () => (await b.get('x')) === 1 && b.stats().l1Hits > 0, 10_000, 'b serves x from L1', 50);
    await a.set('x', 2);
    // Well inside the L1 TTL (10 s): only the invalidation can explain the new value.
    await waitFor(async () => (await b.get('x')) === 2, 3000, 'b L1 invalidated by the set on a');
    let loads = 0;
    const loader = async () => {
      loads++;
      await sleep(300);
      return 7;
    };
    const values = await Promise.all([a.getOrSet('s', loader), b.getOrSet('s', loader)]);
    assert.deepEqual(values, [7, 7]);
    assert.equal(loads, 1, 'one loader call across both kits');
  });

  test('a master killed: other shards answer, its keys degrade in bounded time, writes return after promotion', async () => {
    const keyPrefix = randomPrefix();
    const kit = await clusterKit({ keyPrefix });
    const strictKit = await clusterKit({ keyPrefix });
    const c = kit.cache.namespace<number>('kill', { ttl: '1m' });
    const strict = strictKit.cache.namespace<number>('kill', { ttl: '1m', strict: true });
    const byPort = await keysPerMaster(kit, 'kill', 2);
    const [deadPort, deadKeys] = [...byPort.entries()][0]!;
    const liveKeys = [...byPort.entries()].slice(1).flatMap(([, ks]) => ks);
    const all = [...deadKeys, ...liveKeys];
    await c.setMany(all.map((key, i) => ({ key, value: i })));
    await cluster.refresh();
    const victim = cluster.nodes.find((n) => n.port === deadPort) as ClusterNode;
    await victim.kill();

    const started = Date.now();
    const got = await c.getMany(all);
    const elapsed = Date.now() - started;
    assert.deepEqual(
      got,
      all.map((_, i) => (i < deadKeys.length ? undefined : i)),
      'healthy shards answer, the dead shard misses',
    );
    assert.ok(elapsed < 5000, `bounded: ${elapsed} ms`);
    assert.ok(c.stats().errors > 0, 'the failure is counted');
    // Writes: the healthy shards' part lands, the dead part is skipped without an error.
    await c.setMany(all.map((key) => ({ key, value: 100 })));
    assert.deepEqual(
      await c.getMany(liveKeys),
      liveKeys.map(() => 100),
    );
    assert.equal(await c.get(deadKeys[0]!), undefined);
    for (const key of liveKeys) assert.equal(await c.get(key), 100);
    // Strict mode: a typed error, never a raw one.
    await assert.rejects(strict.getMany(all), (err: unknown) => err instanceof RedisUnavailableError);
    // clear() cannot reach the dead master: degraded, no raw error.
    assert.equal(await c.clear(), 0);

    await cluster.waitForPromotion(victim, 30_000);
    await waitFor(
      async () => {
        await c.setMany(all.map((key) => ({ key, value: 5 })));
        const values = await c.getMany(all);
        return values.every((v) => v === 5);
      },
      30_000,
      'writes to the promoted shard',
      200,
    );
    assert.equal(await c.clear(), all.length);
  });
});

describe('session store on Redis Cluster', () => {
  test('length, all and clear cover every master', async () => {
    const kit = await clusterKit();
    const store = kit.sessionStore();
    const sids = Array.from({ length: 30 }, (_, i) => `sid-${i}`);
    for (const sid of sids) await store.set(sid, { cookie: { maxAge: 60_000 }, n: sid });
    const ports = new Set(await Promise.all(sids.map(async (sid) => (await cluster.nodeForKey(`${kit.keys.key('session', '')}${sid}`)).port)));
    assert.equal(ports.size, 3, 'sessions on three masters');
    assert.equal(await store.length(), 30);
    assert.deepEqual((await store.all()).map((s) => s.id).sort(), [...sids].sort());
    await store.clear();
    assert.equal(await store.length(), 0);
  });
});

// Faults of a real 3-master/3-replica cluster as a caller sees them: a master killed, a master
// stalled (SIGSTOP), the whole cluster killed, and seeds that are not a cluster. Calls to healthy
// shards must keep working, calls to the failed shard must fail typed and fast, and health must
// name the unserved slots.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { createRedkit, RedkitError, silentLogger, type Redkit } from '../../src/index.js';
import { startCluster, type ClusterNode, type RedisCluster } from '../helpers/cluster.js';
import { freePort } from '../helpers/redis-server.js';
import { spawnTopologyProcess, type TopologyProcess } from '../helpers/topology-process.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';

const COMMAND_TIMEOUT = 500;
// A call to a dead or stalled shard must fail within the command timeout plus this (a loaded 2-core box).
const SLACK = 2500;

function clusterKit(cluster: RedisCluster, prefix = randomPrefix()): Promise<Redkit> {
  return createRedkit({
    env: {},
    clusterNodes: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(','),
    keyPrefix: prefix,
    connectTimeoutMs: 2000,
    commandTimeoutMs: COMMAND_TIMEOUT,
    healthIntervalMs: 200,
    logger: silentLogger,
    backoff: { baseMs: 20, maxMs: 200 },
  } as never);
}

/** Every key of the cluster under `pattern`, with the port of the master holding it. */
async function keysByNode(cluster: RedisCluster, pattern: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const node of cluster.masters()) {
    const client = new Redis({ host: node.host, port: node.port, lazyConnect: true });
    try {
      await client.connect();
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        for (const k of keys) out.set(k, node.port);
      } while (cursor !== '0');
    } finally {
      client.disconnect();
    }
  }
  return out;
}

/** The cache entry of `id` in namespace `faults` (not its stampede lock). */
const isCacheKey = (key: string, id: string) => key.includes(`faults:${id}`) && !key.includes('@lock');

interface Outcome {
  ok: boolean;
  ms: number;
  error?: unknown;
}

async function timed(fn: () => Promise<unknown>): Promise<Outcome> {
  const started = performance.now();
  try {
    await fn();
    return { ok: true, ms: performance.now() - started };
  } catch (error) {
    return { ok: false, ms: performance.now() - started, error };
  }
}

function describeFailure(o: Outcome): string {
  const e = o.error as Error & { code?: string; reason?: string };
  return `${e?.name}/${e?.code}/${e?.reason}: ${e?.message} after ${Math.round(o.ms)} ms`;
}

describe('cluster: faults, per shard', () => {
  let cluster: RedisCluster;
  let kit: Redkit;
  const ids = Array.from({ length: 24 }, (_, i) => `id-${String(i).padStart(3, '0')}-x`);
  // Which master (port) serves each id's key, per capability, found before any fault.
  const cacheNode = new Map<string, number>();
  const lockSlot = new Map<string, number>();
  const rateSlot = new Map<string, number>();

  before(async () => {
    // A 6 s node timeout keeps a killed master's slots unserved long enough to observe them.
    cluster = await startCluster({ nodeTimeoutMs: 6000 });
    kit = await clusterKit(cluster);
  });
  after(async () => {
    await kit?.close();
    await cluster?.stop();
  });

  const cache = () => kit.cache.namespace('faults', { strict: true, l1: false } as never);
  const limiter = () => kit.rateLimiter({ name: 'faults', algorithm: 'fixed-window', limit: 1_000_000, windowMs: 60_000, onRedisDown: 'deny' } as never);

  /** One round of calls per id: cache set+get, lock acquire+release, rate-limit consume (policy `deny` on a dead shard). */
  async function round(id: string): Promise<{ cache: Outcome; lock: Outcome; rate: Outcome }> {
    const c = cache();
    const [cacheOut, lockOut, rateOut] = await Promise.all([
      timed(async () => {
        await c.set(id, { v: id });
        assert.deepEqual(await c.get(id), { v: id });
      }),
      timed(async () => {
        // No restart guard: the cluster was started a moment ago, and the guard has its own test (cluster-lock-guard).
        const lock = await kit.lock.acquire(`faults:${id}`, { ttl: 5000, restartGuard: 0 });
        await lock.release();
      }),
      timed(async () => {
        const r = await limiter().consume(id);
        // A shard down is decided by the policy (deny), never by a raw error.
        if (r.decidedBy !== 'redis') throw new RedkitError('E_REDIS_UNAVAILABLE' as never, `decided by ${r.decidedBy}`);
      }),
    ]);
    return { cache: cacheOut, lock: lockOut, rate: rateOut };
  }

  const port = async (slot: number) => (await cluster.masterOf(slot)).port;

  test('health is connected with the cluster topology; every capability works on every shard', async () => {
    await waitFor(async () => (await kit.health()).status === 'connected', 5000, 'connected');
    const health = await kit.health();
    assert.equal(health.topology.kind, 'cluster');
    assert.equal(health.topology.masters?.length, 3);
    assert.equal(health.topology.unservedSlots, null);
    for (const id of ids) {
      const r = await round(id);
      for (const o of [r.cache, r.lock, r.rate]) assert.ok(o.ok, describeFailure(o));
    }
    const found = await keysByNode(cluster, `${kit.connection.config.prefix}:cache:*`);
    for (const id of ids) {
      const key = [...found.keys()].find((k) => isCacheKey(k, id));
      assert.ok(key, `the cache key of ${id} is stored`);
      cacheNode.set(id, found.get(key)!);
      lockSlot.set(id, calculateSlot(kit.keys.tagged('lock', `lock:faults:${id}`, 'h')));
      rateSlot.set(id, calculateSlot(kit.keys.tagged('ratelimit', `fixed-window:faults:${id}`)));
    }
    assert.equal(new Set(cacheNode.values()).size, 3, 'the ids spread over the three masters');
  });

  test('kill -9 of a master: CLUSTER_PARTIAL, healthy shards keep serving, the dead shard fails typed and fast, writes resume after the promotion', async () => {
    const victim = cluster.nodes.find((n) => n.port === cacheNode.get(ids[0]!))!;
    const killedAt = performance.now();
    await victim.kill();
    await waitFor(
      async () => {
        const h = await kit.health();
        return h.status === 'disconnected' && h.lastError?.reason === 'CLUSTER_PARTIAL' && String(h.topology.unservedSlots).includes(`:${victim.port}`);
      },
      5000,
      'health disconnected, CLUSTER_PARTIAL naming the dead master',
    );
    const detectMs = performance.now() - killedAt;

    // Calls during the outage (the replica is promoted only after the 6 s node timeout).
    const victimPorts = { cache: new Set<string>(), lock: new Set<string>(), rate: new Set<string>() };
    let healthyOk = 0;
    const healthyFailed: string[] = [];
    let deadFailed = 0;
    let slowestDead = 0;
    // All ids at once: the whole round must fit in the outage, before the replica is promoted.
    const rounds = await Promise.all(ids.map((id) => round(id)));
    for (const [i, id] of ids.entries()) {
      const r = rounds[i]!;
      const expectDead = {
        cache: cacheNode.get(id) === victim.port,
        lock: (await port(lockSlot.get(id)!)) === victim.port,
        rate: (await port(rateSlot.get(id)!)) === victim.port,
      };
      for (const cap of ['cache', 'lock', 'rate'] as const) {
        const o = r[cap];
        if (expectDead[cap]) {
          victimPorts[cap].add(id);
          assert.equal(o.ok, false, `${cap} ${id} on the dead shard cannot succeed`);
          assert.ok(o.error instanceof RedkitError, `${cap} ${id}: typed error, got ${describeFailure(o)}`);
          assert.ok(!/ReplyError|ClusterAllFailedError/.test(String((o.error as Error).name)), describeFailure(o));
          assert.ok(o.ms < COMMAND_TIMEOUT + SLACK, `${cap} ${id} failed only after ${Math.round(o.ms)} ms`);
          slowestDead = Math.max(slowestDead, o.ms);
          deadFailed++;
        } else if (o.ok) healthyOk++;
        else healthyFailed.push(`${cap} ${id} at +${Math.round(performance.now() - killedAt)} ms: ${describeFailure(o)}`);
      }
    }
    assert.deepEqual(healthyFailed, [], 'calls to healthy shards keep working');
    assert.ok(deadFailed > 0 && healthyOk > 0);
    const promotedNode = await cluster.waitForPromotion(victim, 30_000);
    const promotedAt = performance.now();
    // Writes to the dead slots work again within 10 s of the promotion, and health is connected.
    const id = ids[0]!;
    await waitFor(async () => (await round(id)).cache.ok, 10_000, `a write to the promoted shard (${promotedNode.port})`);
    const resumeMs = performance.now() - promotedAt;
    await waitFor(async () => (await kit.health()).status === 'connected', 10_000 - resumeMs, 'connected again');
    const connectedMs = performance.now() - promotedAt;
    console.log(
      `# kill -9: CLUSTER_PARTIAL seen after ${Math.round(detectMs)} ms; ${deadFailed} dead-shard calls failed typed (slowest ${Math.round(slowestDead)} ms), ${healthyOk} healthy calls ok; write ok ${Math.round(resumeMs)} ms and connected ${Math.round(connectedMs)} ms after the promotion`,
    );
    for (const other of ids) {
      const r = await round(other);
      for (const o of [r.cache, r.lock, r.rate]) assert.ok(o.ok, describeFailure(o));
    }
    // The old master comes back as a replica of the promoted one.
    await victim.start();
    await cluster.waitForOk(30_000);
    await cluster.refresh();
  });

  test('SIGSTOP of a master: its shard fails fast and typed, the others go on', async () => {
    await cluster.refresh();
    const master = cluster.masters()[0]!;
    const onIt = ids.filter((id) => cacheNode.get(id) !== undefined);
    // The cache keys moved with the failover: find their nodes again.
    const found = await keysByNode(cluster, `${kit.connection.config.prefix}:cache:*`);
    const nodeOf = (id: string) => found.get([...found.keys()].find((k) => isCacheKey(k, id))!);
    const stalledIds = onIt.filter((id) => nodeOf(id) === master.port);
    const healthyIds = onIt.filter((id) => nodeOf(id) !== master.port);
    assert.ok(stalledIds.length > 0 && healthyIds.length > 0);
    const c = cache();
    master.pause();
    try {
      const stalled = await Promise.all(stalledIds.slice(0, 4).map((id) => timed(() => c.get(id))));
      for (const o of stalled) {
        assert.equal(o.ok, false, 'a stalled shard cannot answer');
        assert.ok(o.error instanceof RedkitError, describeFailure(o));
        assert.ok(o.ms < COMMAND_TIMEOUT + SLACK, describeFailure(o));
      }
      const healthy = await Promise.all(healthyIds.slice(0, 8).map((id) => timed(() => c.get(id))));
      for (const o of healthy) assert.ok(o.ok, describeFailure(o));
      console.log(
        `# SIGSTOP: stalled-shard gets failed after ${stalled.map((o) => Math.round(o.ms)).join('/')} ms; healthy gets ${healthy.map((o) => Math.round(o.ms)).join('/')} ms`,
      );
    } finally {
      master.resume();
    }
    await waitFor(async () => (await timed(() => c.get(stalledIds[0]!))).ok, 10_000, 'the stalled shard answers again');
    await cluster.waitForOk(30_000);
  });

  test('the whole cluster killed: disconnected; restarted: connected and serving without a new kit', async () => {
    const nodes: ClusterNode[] = [...cluster.nodes];
    await Promise.all(nodes.map((n) => n.kill()));
    await waitFor(async () => (await kit.health()).status === 'disconnected', 5000, 'disconnected');
    const during = await timed(() => kit.lock.acquire('faults:all-down', { ttl: 1000 }));
    assert.equal(during.ok, false);
    assert.ok(during.error instanceof RedkitError, describeFailure(during));
    assert.ok(during.ms < COMMAND_TIMEOUT + SLACK, describeFailure(during));
    const restartedAt = performance.now();
    await Promise.all(nodes.map((n) => n.start()));
    await cluster.waitForOk(30_000);
    await waitFor(async () => (await kit.health()).status === 'connected', 20_000, 'connected again');
    await waitFor(
      async () => {
        for (const id of ids.slice(0, 6)) {
          const r = await round(id);
          if (!r.cache.ok || !r.lock.ok || !r.rate.ok) return false;
        }
        return true;
      },
      20_000,
      'every capability serving again',
    );
    console.log(`# whole cluster restarted: serving ${Math.round(performance.now() - restartedAt)} ms after the restart began`);
  });
});

describe('cluster: seeds that are not a cluster', () => {
  let server: TopologyProcess;
  before(async () => {
    const port = await freePort();
    server = await spawnTopologyProcess(['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], port, 'plain redis');
  });
  after(async () => {
    await server?.kill();
  });

  test('a plain redis-server as the cluster seed: disconnected, NOT_A_CLUSTER with a fix, calls typed', async () => {
    const started = performance.now();
    const kit = await createRedkit({
      env: {},
      clusterNodes: `127.0.0.1:${server.port}`,
      keyPrefix: randomPrefix(),
      connectTimeoutMs: 2000,
      commandTimeoutMs: COMMAND_TIMEOUT,
      healthIntervalMs: 200,
      logger: silentLogger,
      backoff: { baseMs: 20, maxMs: 200 },
    } as never);
    try {
      assert.ok(performance.now() - started < 2000 + SLACK, 'start() does not hang');
      await sleep(300);
      const health = await kit.health();
      assert.equal(health.status, 'disconnected');
      assert.equal(health.lastError?.reason, 'NOT_A_CLUSTER', JSON.stringify(health.lastError));
      assert.match(String(health.lastError?.hint), /REDIS_URL/);
      const call = await timed(() => kit.lock.acquire('x', { ttl: 1000 }));
      assert.ok(call.error instanceof RedkitError, describeFailure(call));
    } finally {
      await kit.close();
    }
  });
});

// Queues on a real Redis Cluster (3 masters, 3 replicas): BullMQ's keys share one hash tag, so
// jobs across many queues work without CROSSSLOT, and a kill -9 of the master holding that slot
// is ridden out by the worker (no restart) once its replica is promoted, with no job lost.
import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createRedkit, silentLogger, type Redkit } from '../../src/index.js';
import { startCluster, type RedisCluster } from '../helpers/cluster.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';

function clusterKit(cluster: RedisCluster, prefix: string): Promise<Redkit> {
  return createRedkit({
    clusterNodes: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(','),
    keyPrefix: prefix,
    connectTimeoutMs: 2000,
    commandTimeoutMs: 1000,
    healthIntervalMs: 200,
    logger: silentLogger,
    env: {},
    backoff: { baseMs: 20, maxMs: 500 },
  });
}

describe('queues on Redis Cluster', () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
  });
  after(async () => {
    await cluster?.stop();
  });

  test('jobs added across many queues run once each, every queue key in one slot', async () => {
    const kit = await clusterKit(cluster, randomPrefix('clq'));
    try {
      const queues = 12;
      const perQueue = 10;
      const seen = new Map<string, number>();
      for (let q = 0; q < queues; q++) {
        kit.worker(`q${q}`, async (job) => {
          const key = `q${q}:${(job.data as { n: number }).n}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
        });
      }
      for (let q = 0; q < queues; q++) {
        const queue = kit.queue(`q${q}`, { onRedisDown: 'reject' });
        // add and addBulk (one MULTI): both multi-key on BullMQ's side.
        for (let n = 0; n < perQueue / 2; n++) await queue.add('x', { n });
        await queue.addBulk(Array.from({ length: perQueue / 2 }, (_, i) => ({ name: 'x', data: { n: perQueue / 2 + i } })));
      }
      await waitFor(() => seen.size === queues * perQueue, 60_000, 'every job run');
      assert.ok(
        [...seen.values()].every((c) => c === 1),
        'each job ran once',
      );
      const counts = await kit.queue('q0').counts();
      assert.equal(counts.completed, perQueue);
      // Every BullMQ key of every queue lives on the master of the one tag's slot.
      const home = await cluster.nodeForKey(`{${kit.config.prefix}:queue}`);
      for (const master of cluster.masters()) {
        const keys = await scanAll(master.port, `*${kit.config.prefix}:queue*`);
        if (master.port === home.port) assert.ok(keys.length > queues, `the tagged slot's master holds the queue keys (${keys.length})`);
        else assert.deepEqual(keys, [], `no queue key on ${master.port}`);
      }
    } finally {
      await kit.close();
    }
  });

  test('kill -9 of the master holding the queue slot: the worker resumes after the promotion, no job lost', async () => {
    const kit = await clusterKit(cluster, randomPrefix('clk'));
    const producer = await clusterKit(cluster, kit.config.prefix);
    try {
      const runs = new Map<number, number>();
      kit.worker(
        'stream',
        async (job) => {
          const n = (job.data as { n: number }).n;
          runs.set(n, (runs.get(n) ?? 0) + 1);
        },
        { concurrency: 4 },
      );
      const queue = producer.queue('stream', { onRedisDown: 'reject' });
      const acked = new Set<number>();
      let refused = 0;
      let stop = false;
      // A stream of adds; a refused add is tried again with the same jobId (stored once at most).
      const adding = (async () => {
        for (let n = 0; !stop; n++) {
          for (;;) {
            try {
              await queue.add('x', { n }, { jobId: `j${n}` });
              acked.add(n);
              break;
            } catch {
              refused++;
              await sleep(100);
            }
          }
          await sleep(20);
        }
      })();
      await waitFor(() => runs.size >= 50, 30_000, 'the worker runs the stream');

      await cluster.refresh();
      const victim = await cluster.nodeForKey(`{${kit.config.prefix}:queue}`);
      const killedAt = Date.now();
      await victim.kill();
      const promoted = await cluster.waitForPromotion(victim, 30_000);
      const promotedAt = Date.now();
      const ackedAtPromotion = Math.max(...acked);
      // Resumed: a job added after the promotion runs, in the same worker.
      const resumed = await waitFor(() => [...runs.keys()].some((n) => n > ackedAtPromotion), 30_000, 'a job added after the promotion runs');
      await sleep(2000);
      stop = true;
      await adding;
      const missing = () => [...acked].filter((n) => !runs.has(n));
      await waitFor(() => missing().length === 0, 60_000, 'every acknowledged job runs').catch(() => undefined);
      const duplicates = [...runs.values()].filter((c) => c > 1).length;
      console.log(
        `# cluster-queue: promotion ${promotedAt - killedAt} ms after kill (new master ${promoted.port}); ` +
          `worker resumed ${Math.round(resumed.elapsedMs)} ms after promotion; ${acked.size} jobs acknowledged, ${refused} adds refused and retried, ` +
          `${missing().length} lost, ${duplicates} run twice or more`,
      );
      assert.deepEqual(missing(), [], 'no acknowledged job lost');
    } finally {
      await producer.close();
      await kit.close();
    }
  });
});

/** Every key matching `pattern` on one node (SCAN, raw: tests may talk to a node directly). */
async function scanAll(port: number, pattern: string): Promise<string[]> {
  const { Redis } = await import('ioredis');
  const node = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await node.connect();
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  } finally {
    node.disconnect();
  }
}

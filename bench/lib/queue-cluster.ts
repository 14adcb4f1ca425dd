// bench/queue.ts with BENCH_TOPOLOGY=cluster: redkit's queue against what a user would pick on
// a Redis Cluster, BullMQ on an ioredis Cluster with a hash-tagged prefix, on the same local
// 3-master/3-replica cluster. The queue lives in one slot either way (BullMQ needs it), so this
// measures the client side, not scaling: all nodes share this machine's cores. No obliterate:
// the cluster is thrown away (obliterating ~100k jobs was the slowest part, or hung: not diagnosed).
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import { Cluster } from 'ioredis';
import { startCluster } from '../../test/helpers/cluster.js';
import { createRedkit, silentLogger } from '../../src/index.js';
import { measure, printTable } from './measure.js';
import { drain, rounds, ROUNDS } from './rounds.js';

export async function queueClusterBench(opts: { durationMs: number; drainJobs: number; concurrency: number }): Promise<void> {
  const { durationMs, drainJobs, concurrency } = opts;
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
  const seeds = cluster.seeds.map((s) => ({ host: s.host, port: s.port }));
  // The baseline a BullMQ user writes for a cluster: one tag for the prefix, no offline-queue tricks.
  const rawClient = (blocking: boolean) => new Cluster(seeds, { redisOptions: blocking ? { maxRetriesPerRequest: null } : {} });
  const producer = rawClient(false);
  const kit = await createRedkit({
    clusterNodes: seeds.map((s) => `${s.host}:${s.port}`).join(','),
    keyPrefix: 'bench',
    env: {},
    logger: silentLogger,
    commandTimeoutMs: 10_000,
  });
  const payload = { userId: 'u-123', video: 's3://bucket/video.mp4', preset: 'hd', tags: ['a', 'b'] };
  const keep = { removeOnComplete: { count: 1000 }, removeOnFail: { count: 5000 } };
  console.log(`# Redis Cluster: 3 masters, 3 replicas on this machine (ready in ${Math.round(cluster.readyMs)} ms); BullMQ prefix {raw}, redkit {bench:queue}`);
  try {
    const raw = new BullQueue('raw-add', { connection: producer, prefix: '{raw}' });
    const ours = kit.queue('add');
    const adds = await rounds([
      () => measure('bullmq Queue.add ({raw} prefix)', () => raw.add('job', payload, keep), { concurrency, durationMs }),
      () => measure('redkit queue.add (cluster)', () => ours.add('job', payload), { concurrency, durationMs }),
    ]);
    printTable(`cluster add (${concurrency} concurrent producers; median of ${ROUNDS} rotated rounds)`, adds, 'bullmq Queue.add ({raw} prefix)');
    await raw.close();

    const rawFill = new BullQueue('raw-proc', { connection: producer, prefix: '{raw}' });
    const procs = await rounds([
      () =>
        drain(
          'bullmq Worker ({raw} prefix)',
          drainJobs,
          async () => {
            for (let i = 0; i < drainJobs; i += 500) await rawFill.addBulk(Array.from({ length: 500 }, () => ({ name: 'job', data: payload, opts: keep })));
          },
          async (onDone) => {
            const client = rawClient(true);
            const w = new BullWorker(
              'raw-proc',
              async () => {
                onDone();
              },
              { connection: client, prefix: '{raw}', concurrency },
            );
            return async () => {
              await w.close();
              client.disconnect();
            };
          },
        ),
      () =>
        drain(
          'redkit worker (cluster)',
          drainJobs,
          async () => {
            const q = kit.queue('proc');
            for (let i = 0; i < drainJobs; i += 500) await q.addBulk(Array.from({ length: 500 }, () => ({ name: 'job', data: payload })));
          },
          async (onDone) => {
            const w = kit.worker(
              'proc',
              async () => {
                onDone();
              },
              { concurrency },
            );
            return () => w.close();
          },
        ),
    ]);
    printTable(
      `cluster process (${drainJobs} pre-filled jobs, concurrency ${concurrency}; jobs/s, median of ${ROUNDS})`,
      procs,
      'bullmq Worker ({raw} prefix)',
    );
    await rawFill.close();
  } finally {
    await kit.close();
    producer.disconnect();
    await cluster.stop();
  }
}

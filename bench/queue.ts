// Queues and job state: redkit's queue vs raw BullMQ on the same redis-server, the in-process
// fallback, and job-state updates. `BENCH_MS=2000 node dist/bench/queue.js`.
// `BENCH_TOPOLOGY=cluster`: redkit vs BullMQ with a tagged prefix on one local Redis Cluster.
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import { startRedis, stopRedis } from '../test/helpers/redis-server.js';
import { measure, printTable } from './lib/measure.js';
import { drain, rounds, ROUNDS } from './lib/rounds.js';
import { createRedkit, silentLogger, type Redkit } from '../src/index.js';

const durationMs = Number(process.env.BENCH_MS ?? 3000);
const DRAIN_JOBS = Number(process.env.BENCH_DRAIN ?? 4000);
const CONCURRENCY = 50;
const TIMING_JOBS = Number(process.env.BENCH_TIMING_JOBS ?? 10);

if (process.env.BENCH_TOPOLOGY === 'cluster') {
  await (await import('./lib/queue-cluster.js')).queueClusterBench({ durationMs, drainJobs: DRAIN_JOBS, concurrency: CONCURRENCY });
  process.exit(0);
}

const server = await startRedis();
const connection = { host: server.host, port: server.port };
// A generous command timeout: the baseline BullMQ client has none, and the machine is shared.
const kit: Redkit = await createRedkit({ url: server.url, keyPrefix: 'bench', env: {}, logger: silentLogger, commandTimeoutMs: 10_000 });
const standalone: Redkit = await createRedkit({ env: {}, logger: silentLogger, keyPrefix: 'bench' });
const payload = { userId: 'u-123', video: 's3://bucket/video.mp4', preset: 'hd', tags: ['a', 'b'] };

try {
  // --- add ---
  const raw = new BullQueue('raw-add', { connection, prefix: 'raw' });
  const ours = kit.queue('add');
  const local = standalone.queue('add');
  standalone.worker('add', async () => undefined, { concurrency: CONCURRENCY });
  const keep = { removeOnComplete: { count: 1000 }, removeOnFail: { count: 5000 } };
  const adds = await rounds([
    () => measure('bullmq Queue.add', () => raw.add('job', payload, keep), { concurrency: CONCURRENCY, durationMs }),
    () => measure('redkit queue.add (BullMQ)', () => ours.add('job', payload), { concurrency: CONCURRENCY, durationMs }),
    () => measure('redkit queue.add (in-process, runs it)', () => local.add('job', payload), { concurrency: CONCURRENCY, durationMs }),
  ]);
  printTable(`add (${CONCURRENCY} concurrent producers; median of ${ROUNDS} rotated rounds)`, adds, 'bullmq Queue.add');
  await raw.obliterate({ force: true });
  await raw.close();

  // --- process ---
  const rawFill = new BullQueue('raw-proc', { connection, prefix: 'raw' });
  const procs = await rounds([
    () =>
      drain(
        'bullmq Worker',
        DRAIN_JOBS,
        async () => {
          for (let i = 0; i < DRAIN_JOBS; i += 500) await rawFill.addBulk(Array.from({ length: 500 }, () => ({ name: 'job', data: payload, opts: keep })));
        },
        async (onDone) => {
          const w = new BullWorker(
            'raw-proc',
            async () => {
              onDone();
            },
            { connection, prefix: 'raw', concurrency: CONCURRENCY },
          );
          return () => w.close();
        },
      ),
    () =>
      drain(
        'redkit worker (BullMQ)',
        DRAIN_JOBS,
        async () => {
          const q = kit.queue('proc');
          for (let i = 0; i < DRAIN_JOBS; i += 500) await q.addBulk(Array.from({ length: 500 }, () => ({ name: 'job', data: payload })));
        },
        async (onDone) => {
          const w = kit.worker(
            'proc',
            async () => {
              onDone();
            },
            { concurrency: CONCURRENCY },
          );
          return () => w.close();
        },
      ),
    () =>
      drain(
        'redkit worker (in-process)',
        DRAIN_JOBS * 5,
        async () => {
          const q = standalone.queue('proc');
          for (let i = 0; i < DRAIN_JOBS * 5; i++) await q.add('job', payload);
        },
        async (onDone) => {
          const w = standalone.worker(
            'proc',
            async () => {
              onDone();
            },
            { concurrency: CONCURRENCY },
          );
          return () => w.close();
        },
      ),
  ]);
  printTable(`process (${DRAIN_JOBS} pre-filled jobs, concurrency ${CONCURRENCY}; jobs/s, median of ${ROUNDS}; no latency columns)`, procs, 'bullmq Worker');
  await rawFill.obliterate({ force: true });
  await rawFill.close();

  // --- job state ---
  const ids: string[] = [];
  for (let i = 0; i < 200; i++) ids.push((await kit.jobs.store.create({ kind: 'bench' })).id);
  const memIds: string[] = [];
  for (let i = 0; i < 200; i++) memIds.push((await standalone.jobs.store.create({ kind: 'bench' })).id);
  const client = kit.redis!;
  const states = await rounds([
    () =>
      measure(
        'raw HSET+EXPIRE (no validation, no pub/sub)',
        (i) =>
          client
            .multi()
            .hset(`raw:job:${i % 200}`, 'progress', i % 100)
            .expire(`raw:job:${i % 200}`, 7200)
            .exec(),
        { concurrency: CONCURRENCY, durationMs },
      ),
    () =>
      measure('redkit jobs.store.update (Redis)', (i) => kit.jobs.store.update(ids[i % 200]!, { progress: i % 100 }), { concurrency: CONCURRENCY, durationMs }),
    () =>
      measure('redkit jobs.store.update (memory)', (i) => standalone.jobs.store.update(memIds[i % 200]!, { progress: i % 100 }), {
        concurrency: CONCURRENCY,
        durationMs,
      }),
  ]);
  printTable('job-state updates', states, 'raw HSET+EXPIRE (no validation, no pub/sub)');

  // --- timing: how late delayed jobs and scheduler runs start (idle worker, blocking wait) ---
  // skipVersionCheck (redkit's, since INFO is refused under least privilege) made BullMQ assume
  // Redis 5 and round blocking waits up to whole seconds; redkit now tells BullMQ Redis 7.
  const lateness = async (label: string, add: (delayMs: number) => Promise<number>, started: number[]) => {
    const due: number[] = [];
    for (let i = 0; i < TIMING_JOBS; i++) {
      due.push(await add(250));
      await new Promise((r) => setTimeout(r, 300));
    }
    await new Promise((r) => setTimeout(r, 1500));
    const late = started.map((t, i) => t - due[i]!).sort((a, b) => a - b);
    console.log(
      `${label.padEnd(52)} delayMs 250: started late by p50 ${late[Math.floor(late.length / 2)]} ms, max ${late[late.length - 1]} ms (${late.length} jobs)`,
    );
  };
  console.log('\ntiming (one idle worker; lateness = start − due time)');
  for (const skip of [true, false]) {
    const q = new BullQueue(`raw-delay-${skip}`, { connection, prefix: 'raw', skipVersionCheck: skip });
    const started: number[] = [];
    const w = new BullWorker(
      `raw-delay-${skip}`,
      async () => {
        started.push(Date.now());
      },
      { connection, prefix: 'raw', skipVersionCheck: skip },
    );
    await w.waitUntilReady();
    await lateness(
      `bullmq Worker, skipVersionCheck: ${skip}`,
      async (delay) => {
        const t = Date.now();
        await q.add('d', {}, { delay });
        return t + delay;
      },
      started,
    );
    await w.close();
    await q.obliterate({ force: true });
    await q.close();
  }
  {
    const started: number[] = [];
    const w = kit.worker('delay', async () => {
      started.push(Date.now());
    });
    await w.ready();
    await lateness(
      'redkit worker (BullMQ, skipVersionCheck + Redis 7)',
      async (delayMs) => {
        const t = Date.now();
        await kit.queue('delay').add('d', {}, { delayMs });
        return t + delayMs;
      },
      started,
    );
    const runs: number[] = [];
    const s = kit.worker('sched', async () => {
      runs.push(Date.now());
    });
    await s.ready();
    await kit.queue('sched').upsertScheduler('tick', { every: 400 }, { name: 'tick' });
    await new Promise((r) => setTimeout(r, 4000));
    await kit.queue('sched').removeScheduler('tick');
    const gaps = runs.slice(1).map((t, i) => t - runs[i]!);
    console.log(
      `${'redkit upsertScheduler every: 400'.padEnd(52)} ${runs.length} runs in 4 s, mean gap ${Math.round(gaps.reduce((a, b) => a + b, 0) / gaps.length)} ms`,
    );
    await Promise.all([w.close(), s.close()]);
  }
} finally {
  await kit.close();
  await standalone.close();
  await stopRedis(server);
}

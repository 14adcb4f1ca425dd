// A worker started before its Redis (the usual docker-compose / Kubernetes boot order) takes
// jobs once Redis comes up, and again after Redis restarts: kit.worker() in this process, and
// `npm run worker` (dist/app/worker.js) as a child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { targetEnv, targetOptions } from '../helpers/target.js';
import { sleep, waitFor } from '../helpers/util.js';
import { spawnWithLines } from '../helpers/process.js';
import { createRedkit, silentLogger } from '../../src/index.js';

// Backoff cap (1 s, the default) + 2 s, with room for a loaded 2-core machine.
const BOUND_MS = 1000 + 2000 + 4000;

test('kit.worker() created while Redis is unreachable takes jobs once Redis comes up, and after a restart', async () => {
  const server = await startRedis();
  await server.stop(); // the port is known and nothing listens on it
  // The default backoff (cap 1 s), not the helper's shorter one: the bound is about the default.
  const kit = await kitFor(server, { connectTimeoutMs: 300, backoff: undefined } as Parameters<typeof kitFor>[1]);
  const producer = { kit: null as Awaited<ReturnType<typeof kitFor>> | null };
  try {
    assert.equal(kit.mode, 'degraded');
    const done: number[] = [];
    kit.worker('boot', async (job) => {
      done.push((job.data as { n: number }).n);
    });
    await sleep(1500); // the worker's first connection attempts fail
    await server.start();
    const upAt = Date.now();
    producer.kit = await createRedkit({ ...targetOptions(server), keyPrefix: kit.config.prefix, env: {}, logger: silentLogger });
    const q = producer.kit.queue('boot', { onRedisDown: 'reject' });
    await q.add('x', { n: 1 });
    const first = await waitFor(() => done.includes(1), BOUND_MS, 'the job added after Redis came up');
    process.stdout.write(`# boot order: job processed ${Date.now() - upAt} ms after redis-server started\n`);
    assert.ok(first.value);

    // Redis restarts (empty) later: the worker carries on.
    await server.restart();
    const restartedAt = Date.now();
    await waitFor(
      async () => {
        await q.add('x', { n: 2 });
        return true;
      },
      BOUND_MS,
      'add after the restart',
    );
    await waitFor(() => done.includes(2), BOUND_MS, 'the job added after the restart');
    process.stdout.write(`# restart: job processed ${Date.now() - restartedAt} ms after redis-server restarted\n`);
  } finally {
    await producer.kit?.close();
    await kit.close();
    await stopRedis(server);
  }
});

const workerScript = fileURLToPath(new URL('../../app/worker.js', import.meta.url));

test('`npm run worker` started before Redis processes jobs once Redis comes up, and after a restart', async () => {
  const server = await startRedis();
  await server.stop();
  const prefix = `boot${process.pid}`;
  const child = spawnWithLines(workerScript, { ...targetEnv(server), REDIS_KEY_PREFIX: prefix, REDIS_CONNECT_TIMEOUT_MS: '300', LOG_LEVEL: 'info' });
  let kit: Awaited<ReturnType<typeof createRedkit>> | undefined;
  try {
    await waitFor(() => child.lines.some((l) => l.includes('worker started')), 15_000, 'worker process started');
    assert.ok(
      child.lines.some((l) => l.includes('"mode":"degraded"')),
      'the worker started without Redis',
    );
    await sleep(1500);
    await server.start();
    const upAt = Date.now();
    kit = await createRedkit({ ...targetOptions(server), keyPrefix: prefix, env: {}, logger: silentLogger });
    const q = kit.queue('analytics', { onRedisDown: 'reject' });
    await q.add('event', { event: 'boot' });
    await waitFor(async () => (await q.counts()).completed === 1, BOUND_MS, 'the job done by the worker process');
    process.stdout.write(`# npm run worker: job processed ${Date.now() - upAt} ms after redis-server started\n`);

    await server.restart();
    await waitFor(
      async () => {
        await q.add('event', { event: 'again' });
        return true;
      },
      BOUND_MS,
      'add after the restart',
    );
    await waitFor(async () => (await q.counts()).completed === 1, BOUND_MS, 'the job added after the restart (Redis restarted empty)');
  } finally {
    child.child.kill('SIGTERM');
    if (child.child.exitCode === null) await new Promise((r) => child.child.once('exit', r));
    await kit?.close();
    await stopRedis(server);
  }
});

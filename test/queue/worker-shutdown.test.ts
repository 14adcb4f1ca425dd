// A deploy, worker side: close() / SIGTERM lets running jobs finish within closeTimeoutMs, hands
// back the ones still running after it, and `npm run worker` exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { targetEnv, targetOptions } from '../helpers/target.js';
import { sleep, waitFor } from '../helpers/util.js';
import { spawnWithLines } from '../helpers/process.js';
import { createRedkit, silentLogger } from '../../src/index.js';

test('kit.close() waits for a running job that ends within closeTimeoutMs; it completes', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  const producer = await kitFor(server, { keyPrefix: kit.config.prefix });
  try {
    let finished = false;
    const worker = kit.worker(
      'drain',
      async () => {
        await sleep(3000);
        finished = true;
        return 'ok';
      },
      { closeTimeoutMs: 10_000 },
    );
    await worker.ready();
    const q = producer.queue('drain');
    await q.add('x', {});
    await waitFor(async () => (await q.counts()).active === 1, 5000, 'the job runs');
    const started = performance.now();
    // kit.close(), not worker.close(): its per-capability bound (2 s here) must not cut the job off.
    await kit.close();
    const tookMs = performance.now() - started;
    assert.ok(finished, 'the handler ran to its end');
    const counts = await q.counts();
    assert.equal(counts.completed, 1, 'the job is completed in Redis');
    assert.equal(counts.active, 0);
    assert.ok(tookMs < 10_000, `close took ${Math.round(tookMs)} ms`);
  } finally {
    await kit.close();
    await producer.close();
    await stopRedis(server);
  }
});

test('a job still running after closeTimeoutMs is handed back to the queue and another worker runs it', async () => {
  const server = await startRedis();
  const a = await kitFor(server);
  const b = await kitFor(server, { keyPrefix: a.config.prefix });
  try {
    let signalled: unknown;
    // Ignores its signal on purpose: the close must not wait for it.
    const slow = a.worker(
      'handback',
      async (job) => {
        job.signal.addEventListener('abort', () => {
          signalled = job.signal.reason;
        });
        await sleep(60_000);
      },
      { closeTimeoutMs: 1000 },
    );
    await slow.ready();
    const q = b.queue('handback');
    const { id } = await q.add('x', {});
    await waitFor(async () => (await q.counts()).active === 1, 5000, 'the job runs on a');
    const started = performance.now();
    await slow.close();
    const tookMs = performance.now() - started;
    assert.ok(tookMs < 1000 + 4000, `close took ${Math.round(tookMs)} ms with closeTimeoutMs 1000`);
    assert.ok(signalled !== undefined, 'the handler was told to stop (its signal aborted)');
    const counts = await q.counts();
    assert.equal(counts.waiting, 1, 'the job is back in the queue, not lost');
    assert.equal(counts.failed, 0, 'not counted as a failure');
    const ran: Array<{ id: string; attempt: number }> = [];
    const other = b.worker('handback', async (job) => {
      ran.push({ id: job.id, attempt: job.attempt });
    });
    await other.ready();
    await waitFor(() => ran.length === 1, 5000, 'another worker runs the handed-back job');
    assert.deepEqual(ran, [{ id, attempt: 1 }]);
  } finally {
    await a.close();
    await b.close();
    await stopRedis(server);
  }
});

const workerScript = fileURLToPath(new URL('../../app/worker.js', import.meta.url));

test('`npm run worker` on SIGTERM finishes its running job and exits 0', async () => {
  const server = await startRedis();
  const prefix = `drain${process.pid}`;
  const child = spawnWithLines(workerScript, { ...targetEnv(server), REDIS_KEY_PREFIX: prefix, WORKER_CLOSE_TIMEOUT_MS: '20000', LOG_LEVEL: 'info' });
  const kit = await createRedkit({ ...targetOptions(server), keyPrefix: prefix, env: {}, logger: silentLogger });
  try {
    await waitFor(() => child.lines.some((l) => l.includes('worker started')), 15_000, 'worker process started');
    const q = kit.queue('video', { onRedisDown: 'reject' });
    await q.add('enhance', { url: 'x.mp4', stepMs: 2000 }); // about 8 s of work: longer than kit.close()'s default per-capability bound
    await waitFor(async () => (await q.counts()).active === 1, 10_000, 'the job runs in the worker process');
    const exited = new Promise<number | null>((resolve) => child.child.once('exit', (code) => resolve(code)));
    const signalledAt = performance.now();
    child.child.kill('SIGTERM');
    const code = await exited;
    const tookMs = performance.now() - signalledAt;
    assert.equal(code, 0, `exit code (log: ${child.lines.slice(-3).join(' | ')})`);
    const counts = await q.counts();
    assert.equal(counts.completed, 1, `the running job completed before the exit: ${JSON.stringify(counts)} ${child.lines.join('\n')}`);
    assert.equal(counts.active, 0);
    assert.ok(tookMs > 1500 && tookMs < 20_000, `exited ${Math.round(tookMs)} ms after SIGTERM`);
  } finally {
    child.child.kill('SIGKILL');
    await kit.close();
    await stopRedis(server);
  }
});

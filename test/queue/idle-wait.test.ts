import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { waitFor, sleep } from '../helpers/util.js';
import type { JobContext } from '../../src/index.js';

// Issue 16: the default blocking wait is 30 s (idle cost); a job must still be taken at once.
test('a worker left blocked through SIGSTOP then a restart takes the next job at once', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  try {
    const seen: number[] = [];
    const worker = kit.worker('stop-restart', async (job: JobContext<{ n: number }>) => {
      seen.push(job.data.n);
    });
    await worker.ready();
    await kit.queue('stop-restart').add('x', { n: 1 });
    await waitFor(() => seen.length === 1, 5000, 'first job');
    await sleep(500);
    server.pause();
    await sleep(3000);
    server.resume();
    await server.restart();
    await waitFor(() => kit.health().then((h) => h.status === 'connected'), 15_000, 'connection back');
    await waitFor(
      async () => {
        try {
          return (await kit.queue('stop-restart').add('x', { n: 2 })).via === 'redis';
        } catch {
          return false;
        }
      },
      15_000,
      'job added after restart',
    );
    const t0 = Date.now();
    await waitFor(() => seen.includes(2), 30_000, 'job after the restart');
    const ms = Date.now() - t0;
    console.log(`# pickup after SIGSTOP and restart: ${ms} ms`);
    // Not one blocking wait (30 s): the resent wait is ended by the new job's marker.
    assert.ok(ms < 5000, `picked up after ${ms} ms`);
  } finally {
    await kit.close();
    await stopRedis(server);
  }
});

test('an idle worker (30 s blocking wait by default) takes a job added while it waits at once', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  try {
    const seen: number[] = [];
    const worker = kit.worker('idle-pickup', async (job: JobContext<{ n: number }>) => {
      seen.push(job.data.n);
    });
    await worker.ready();
    await sleep(3000);
    for (const n of [1, 2]) {
      const t0 = Date.now();
      await kit.queue('idle-pickup').add('x', { n });
      await waitFor(() => seen.includes(n), 10_000, `job ${n}`);
      const ms = Date.now() - t0;
      console.log(`# idle pickup ${ms} ms`);
      assert.ok(ms < 2000, `picked up after ${ms} ms`);
      await sleep(2000);
    }
  } finally {
    await kit.close();
    await stopRedis(server);
  }
});

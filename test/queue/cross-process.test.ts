import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createRedkit, silentLogger, RedisUnavailableError, type Redkit, type QueueEventMap } from '../../src/index.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { spawnWithLines, type LineProcess } from '../helpers/process.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';
import { targetOptions } from '../helpers/target.js';

// Issue 18 across processes, as the README's least-privilege ACL user (`+@all -@dangerous`):
// job events from another process, one run per schedule across two instances, live workers
// counted without CLIENT LIST, and the admin calls during a real outage.

const peerScript = fileURLToPath(new URL('./fixtures/peer.js', import.meta.url));

describe('queue across processes (least-privilege ACL user)', () => {
  let server: RedisServer;
  let kit: Redkit;
  let url: string;
  const prefix = randomPrefix('q18');
  const peers: LineProcess[] = [];
  const peer = (env: Record<string, string>) => {
    const target: Record<string, string> = server.cluster
      ? { REDIS_CLUSTER_NODES: targetOptions(server).clusterNodes!, REDIS_USERNAME: 'app', REDIS_PASSWORD: 'app-pw' }
      : { REDIS_URL: url };
    const p = spawnWithLines(peerScript, { ...target, KEY_PREFIX: prefix, ...env });
    peers.push(p);
    return p;
  };
  const stopPeer = async (p: LineProcess, signal: NodeJS.Signals = 'SIGTERM') => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    const exited = new Promise((r) => p.child.once('exit', r));
    p.child.kill(signal);
    await exited;
  };

  /** The README's least-privilege line; the default user only creates it (again after a restart: no persistence). */
  const createUser = async () => {
    // A cluster: ACLs are per node, and BullMQ's tagged prefix needs its own key pattern (README).
    const keys = server.cluster ? [`~${prefix}:*`, `~{${prefix}:queue}:*`] : [`~${prefix}:*`];
    for (const node of server.cluster?.seeds ?? [server]) {
      const admin = new Redis({ port: node.port, host: node.host });
      await admin.call('ACL', 'SETUSER', 'app', 'on', '>app-pw', 'resetkeys', ...keys, 'resetchannels', `&${prefix}:*`, '+@all', '-@dangerous');
      admin.disconnect();
    }
  };

  before(async () => {
    server = await startRedis();
    await createUser();
    url = `redis://app:app-pw@127.0.0.1:${server.port}`;
    kit = await createRedkit({
      ...(server.cluster ? { clusterNodes: targetOptions(server).clusterNodes, username: 'app', password: 'app-pw' } : { url }),
      keyPrefix: prefix,
      env: {},
      logger: silentLogger,
      connectTimeoutMs: 2000,
      commandTimeoutMs: 500,
      healthIntervalMs: 200,
      backoff: { baseMs: 20, maxMs: 200 },
    });
  });
  after(async () => {
    await Promise.all(peers.map((p) => stopPeer(p, 'SIGKILL')));
    await kit?.close();
    await stopRedis(server);
  });

  test('completed, failed and progress events of jobs run by another process', async () => {
    const q = kit.queue('xevents');
    const seen: Array<[string, unknown]> = [];
    for (const event of ['completed', 'failed', 'progress'] as const) q.on(event, (p: QueueEventMap[typeof event]) => seen.push([event, p]));
    await q.listening();
    const other = peer({ QUEUE: 'xevents' });
    await waitFor(() => other.lines.includes('ready'), 15_000, 'peer ready');
    await q.add('a', {}, { jobId: 'x-ok' });
    await q.add('a', { fail: true }, { jobId: 'x-bad' });
    await waitFor(() => seen.length >= 4, 10_000, 'four events from the peer');
    const pid = other.child.pid;
    assert.deepEqual(
      seen.filter(([, p]) => (p as { jobId: string }).jobId === 'x-ok'),
      [
        ['progress', { jobId: 'x-ok', progress: 50 }],
        ['completed', { jobId: 'x-ok', result: { by: pid } }],
      ],
    );
    assert.deepEqual(
      seen.filter(([, p]) => (p as { jobId: string }).jobId === 'x-bad'),
      [
        ['progress', { jobId: 'x-bad', progress: 50 }],
        ['failed', { jobId: 'x-bad', failedReason: `failed in ${pid}` }],
      ],
    );
    assert.equal((await q.getJob('x-ok'))!.state, 'completed');
    await stopPeer(other);
  });

  test('a scheduler upserted by two instances runs once per schedule', async (t) => {
    const everyMs = 400;
    const a = peer({ QUEUE: 'xsched', MODE: 'scheduler', EVERY_MS: String(everyMs) });
    const b = peer({ QUEUE: 'xsched', MODE: 'scheduler', EVERY_MS: String(everyMs) });
    await waitFor(() => a.lines.includes('ready') && b.lines.includes('ready'), 15_000, 'both instances ready');
    const start = Date.now();
    const runs = () => [...a.lines, ...b.lines].filter((l) => l.startsWith('run ')).map((l) => l.slice(4));
    const before = runs().length;
    await sleep(4000);
    const elapsed = Date.now() - start;
    const ids = runs().slice(before);
    t.diagnostic(`${ids.length} runs in ${elapsed} ms at every ${everyMs} ms, two instances`);
    assert.equal(new Set(ids).size, ids.length, 'no job ran twice');
    // One timer per instance would run about twice this many.
    assert.ok(ids.length >= 5 && ids.length <= Math.ceil(elapsed / everyMs) + 1, `${ids.length} runs in ${elapsed} ms at every ${everyMs} ms`);
    assert.deepEqual(
      (await kit.queue('xsched').schedulers()).map((s) => [s.id, s.every]),
      [['tick', everyMs]],
    );
    assert.equal(await kit.queue('xsched').removeScheduler('tick'), true);
    await Promise.all([stopPeer(a), stopPeer(b)]);
  });

  test('live workers across processes; a worker killed with -9 stops counting once its heartbeat is stale', async (t) => {
    const q = kit.queue('xlive');
    await q.add('w', {}, { delayMs: 60_000 });
    assert.equal((await q.counts()).workers, 0);
    const a = peer({ QUEUE: 'xlive' });
    const b = peer({ QUEUE: 'xlive' });
    await waitFor(() => a.lines.includes('ready') && b.lines.includes('ready'), 15_000, 'two workers ready');
    await waitFor(async () => (await q.counts()).workers === 2, 5000, 'two live workers');
    await stopPeer(a, 'SIGKILL');
    const { elapsedMs } = await waitFor(async () => (await q.counts()).workers === 1, 45_000, 'the killed worker is no longer counted', 250);
    t.diagnostic(`killed worker no longer counted after ${elapsedMs} ms`);
    // Counted until its last beat is 25 s old (HEARTBEAT_STALE_MS): 15–25 s after the kill, plus a read.
    assert.ok(elapsedMs < 30_000, `dropped after ${elapsedMs} ms`);
    await stopPeer(b);
    assert.equal((await q.counts()).workers, 0, 'a closed worker leaves the set at once');
  });

  test('Redis stopped: a job run inline is found by getJob; other ids fail typed', async () => {
    const q = kit.queue('xinline');
    const worker = kit.worker('xinline', async (job) => {
      await job.progress(10);
      return 'ran here';
    });
    await server.stop();
    try {
      await waitFor(() => !kit.connection.isReady, 5000, 'connection down');
      const added = await q.add('i', {}, { jobId: 'inline-1' });
      assert.equal(added.via, 'local');
      await added.finished;
      const job = await q.getJob('inline-1');
      assert.deepEqual([job!.state, job!.result, job!.progress], ['completed', 'ran here', 10]);
      await assert.rejects(q.getJob('elsewhere'), RedisUnavailableError);
    } finally {
      await server.start();
      await createUser();
    }
    await worker.close();
  });
});

test('Redis paused (SIGSTOP) then killed: admin calls fail typed and in time, then work again; events resume', async (t) => {
  // Its own server and the default user: a restarted Redis comes back empty, ACL users included.
  const server = await startRedis();
  const kit = await kitFor(server);
  t.after(async () => {
    await kit.close();
    await stopRedis(server);
  });
  const q = kit.queue('xfault');
  const completed: string[] = [];
  q.on('completed', ({ jobId }) => completed.push(jobId));
  await q.listening();
  const worker = kit.worker('xfault', async () => 'ok');
  await worker.ready();
  await q.add('f', {}, { jobId: 'before' });
  await waitFor(() => completed.includes('before'), 10_000, 'event before the fault');
  server.pause();
  try {
    for (const call of [() => q.getJob('before'), () => q.pause(), () => q.schedulers(), () => q.retryFailed(), () => q.counts()]) {
      const t0 = Date.now();
      await assert.rejects(call(), RedisUnavailableError);
      assert.ok(Date.now() - t0 < 5000, `failed in ${Date.now() - t0} ms`);
    }
  } finally {
    server.resume();
  }
  await server.restart();
  // Back empty (or still reconnecting): null or a typed error, never a raw one.
  const afterRestart = await q.getJob('before').catch((err: unknown) => err);
  assert.ok(afterRestart === null || afterRestart instanceof RedisUnavailableError, `got ${String(afterRestart)}`);
  await waitFor(() => kit.health().then((h) => h.status === 'connected'), 15_000, 'connection back');
  // The same worker, left blocked through SIGSTOP then a restart, must take the next job: its
  // blocking wait is interrupted when the connection comes back (see RedisWorker), not waited out.
  await waitFor(
    async () => {
      try {
        return (await q.add('f', {}, { jobId: 'after' })).via === 'redis';
      } catch {
        return false;
      }
    },
    15_000,
    'job added after restart',
  );
  await waitFor(() => completed.includes('after'), 30_000, 'event after the restart, without restarting the app').catch(async (err) => {
    throw new Error(`${(err as Error).message}; job "after" is ${(await q.getJob('after'))?.state}`);
  });
  assert.equal((await q.getJob('after'))!.state, 'completed');
  await worker.close();
});

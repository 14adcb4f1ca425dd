// Cross-instance behaviour with real Node processes: the stampede lock and L1 invalidation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Redkit } from '../../src/index.js';
import { kitFor } from '../helpers/kit.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, sleep } from '../helpers/util.js';

const workerPath = fileURLToPath(new URL('./fixtures/cache-worker.js', import.meta.url));

interface Worker {
  call<R = unknown>(op: string, args?: Record<string, unknown>): Promise<R>;
  exited: Promise<number | null>;
  child: ChildProcess;
}

/** Spawns a cache worker process and waits until its kit is connected. */
async function spawnWorker(config: { url: string; clusterNodes?: string; keyPrefix: string }): Promise<Worker> {
  const child = spawn(process.execPath, [workerPath], {
    env: { ...process.env, CACHE_WORKER_CONFIG: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => {
    ready = resolve;
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const reply = JSON.parse(line) as { id: number; ok: boolean; result?: unknown; error?: string; code?: string };
    if (reply.id === 0) return ready();
    const p = pending.get(reply.id);
    pending.delete(reply.id);
    if (reply.ok) p?.resolve(reply.result);
    else p?.reject(Object.assign(new Error(reply.error), { code: reply.code }));
  });
  let nextId = 1;
  await Promise.race([
    isReady,
    exited.then((code) => {
      throw new Error(`cache worker exited early (${code})`);
    }),
  ]);
  return {
    child,
    exited,
    call<R>(op: string, args: Record<string, unknown> = {}) {
      const id = nextId++;
      return new Promise<R>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
      });
    },
  };
}

let server: RedisServer;
let keyPrefix: string;
let workers: Worker[] = [];
let kit: Redkit;

before(async () => {
  server = await startRedis();
  keyPrefix = randomPrefix('mp');
  kit = await kitFor(server, { keyPrefix });
  // REDKIT_TEST_TOPOLOGY=cluster: the workers seed from every node, as kitFor does.
  const clusterNodes = server.cluster?.seeds.map((s) => `${s.host}:${s.port}`).join(',');
  workers = await Promise.all([spawnWorker({ url: server.url, clusterNodes, keyPrefix }), spawnWorker({ url: server.url, clusterNodes, keyPrefix })]);
});

after(async () => {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  await kit.close();
  await stopRedis(server);
});

type Outcome = { loads: number; values: string[]; errors: string[]; rejected: number };

test('stampedeLock: 1,000 concurrent misses in each of two processes → exactly 1 loader call', async () => {
  const [a, b] = workers as [Worker, Worker];
  const options = { ttl: '1m', stampedeLock: { ttl: '5s' } };
  await Promise.all([a.call('namespace', { ns: 'lock-ok', options }), b.call('namespace', { ns: 'lock-ok', options })]);
  const [ra, rb] = await Promise.all([
    a.call<Outcome>('getOrSetMany', { ns: 'lock-ok', key: 'hot', count: 1000, loadMs: 300 }),
    b.call<Outcome>('getOrSetMany', { ns: 'lock-ok', key: 'hot', count: 1000, loadMs: 300 }),
  ]);
  assert.equal(ra.loads + rb.loads, 1, `loader calls: ${ra.loads} + ${rb.loads}`);
  assert.equal(ra.rejected + rb.rejected, 0);
  assert.equal(ra.values.length, 1);
  assert.deepEqual(ra.values, rb.values, 'both processes got the one loaded value');
});

test('stampedeLock: a loader error reaches the waiters of both processes and is not cached', async () => {
  const [a, b] = workers as [Worker, Worker];
  const options = { ttl: '1m', stampedeLock: { ttl: '5s' } };
  await Promise.all([a.call('namespace', { ns: 'lock-err', options }), b.call('namespace', { ns: 'lock-err', options })]);
  const before = (await Promise.all([a, b].map((w) => w.call<{ loads: number }>('stats', { ns: 'lock-err' })))).reduce((s, x) => s + x.loads, 0);
  const [ra, rb] = await Promise.all([
    a.call<Outcome>('getOrSetMany', { ns: 'lock-err', key: 'bad', count: 1000, loadMs: 300, fail: 'upstream down' }),
    b.call<Outcome>('getOrSetMany', { ns: 'lock-err', key: 'bad', count: 1000, loadMs: 300, fail: 'upstream down' }),
  ]);
  const stats = await Promise.all([a, b].map((w) => w.call<{ loads: number; loadErrors: number }>('stats', { ns: 'lock-err' })));
  assert.equal(stats[0]!.loads + stats[1]!.loads - before, 1, 'one loader call in all');
  assert.equal(ra.rejected, 1000);
  assert.equal(rb.rejected, 1000);
  const all = [...ra.errors, ...rb.errors].sort();
  assert.deepEqual(all, [
    'E_CACHE_REMOTE_LOAD:cache "lock-err": the loader for key "bad" failed on the instance holding the stampede lock: upstream down',
    'plain:upstream down',
  ]);
  assert.equal(await a.call('get', { ns: 'lock-err', key: 'bad' }), null, 'the error is not cached');
});

test("L1: set/delete/clear on one instance evicts the key from another process's L1 within 100 ms", async () => {
  const [b] = workers as [Worker];
  const local = kit.cache.namespace<{ v: number }>('l1', { ttl: '1m', l1: { ttl: '1m' } });
  await local.ready();
  await b.call('namespace', { ns: 'l1', options: { ttl: '1m', l1: { ttl: '1m' } } });
  const observe = async (change: () => Promise<unknown>, from: unknown, to: unknown, what: string) => {
    const watching = b.call<{ changedAt: number | null; value: unknown }>('watch', { ns: 'l1', key: 'k', from, timeoutMs: 3000 });
    await sleep(100); // the other process is now serving `from` from its L1
    const changedFrom = Date.now();
    await change();
    const seen = await watching;
    assert.deepEqual(seen.value, to, what);
    assert.ok(seen.changedAt !== null, `${what}: never seen`);
    const delay = seen.changedAt - changedFrom;
    assert.ok(delay <= 100, `${what}: seen after ${delay} ms`);
    return delay;
  };
  await local.set('k', { v: 1 });
  assert.deepEqual(await b.call('get', { ns: 'l1', key: 'k' }), { v: 1 });
  const l1HitsBefore = (await b.call<{ l1Hits: number }>('stats', { ns: 'l1' })).l1Hits;
  await observe(() => local.set('k', { v: 2 }), { v: 1 }, { v: 2 }, 'set');
  const l1HitsAfter = (await b.call<{ l1Hits: number }>('stats', { ns: 'l1' })).l1Hits;
  assert.ok(l1HitsAfter - l1HitsBefore > 10, `the other process served from its L1 meanwhile (${l1HitsAfter - l1HitsBefore} L1 hits)`);
  await observe(() => local.delete('k'), { v: 2 }, null, 'delete');
  await local.set('k', { v: 3 });
  await b.call('get', { ns: 'l1', key: 'k' });
  await observe(() => local.clear(), { v: 3 }, null, 'clear');
});

test('after close() nothing keeps a worker process alive', async () => {
  for (const w of workers) assert.equal(await w.call('close'), 'closed');
  const codes = await Promise.race([Promise.all(workers.map((w) => w.exited)), sleep(5000).then(() => 'still running')]);
  assert.deepEqual(codes, [0, 0]);
});

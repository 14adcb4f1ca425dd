import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';
import { agedRedis } from './setup.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url));
let server: RedisServer;
const children = new Set<ChildProcess>();
before(async () => {
  server = await agedRedis();
});
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await stopRedis(server);
});

function spawnFixture(name: string, env: Record<string, string>): ChildProcess {
  const child = fork(fixture(name), [], { env: { ...process.env, FIXTURE_REDIS_URL: server.url, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

test('20 contenders × 500 acquisitions across 2 processes: 0 overlaps, fences increase in grant order', async () => {
  const prefix = randomPrefix('p');
  const log = join(mkdtempSync(join(tmpdir(), 'redkit-lock-')), 'record.log');
  const procs = ['a', 'b'].map((id) =>
    spawnFixture('contender', { FIXTURE_PREFIX: prefix, FIXTURE_ID: id, LOCK_NAME: 'shared', CONTENDERS: '10', ITERATIONS: '500', LOG_FILE: log }),
  );
  const ready: Array<Promise<void>> = [];
  const results = procs.map(
    (p) =>
      new Promise<number[]>((resolve, reject) => {
        ready.push(
          new Promise<void>((ok) =>
            p.on('message', (m: { ready?: boolean }) => {
              if (m.ready) ok();
            }),
          ),
        );
        p.on('message', (m: { done?: boolean; grants?: number[] }) => {
          if (m.done) resolve(m.grants!);
        });
        p.once('exit', (code) => {
          if (code !== 0) reject(new Error(`contender exited with ${code}`));
        });
      }),
  );
  // Start both at once, once both are connected (a fork takes a while to load).
  await Promise.race([Promise.all(ready), Promise.all(results)]);
  for (const p of procs) p.send({ go: true });
  const started = performance.now();
  const grants = (await Promise.all(results)).flat();
  const tookMs = performance.now() - started;
  assert.equal(
    grants.reduce((a, b) => a + b, 0),
    10_000,
  );

  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.equal(lines.length, 20_000);
  let inside: string | null = null;
  let lastFence = 0;
  let overlaps = 0;
  let nonIncreasing = 0;
  for (const line of lines) {
    const [kind, who, fenceText] = line.split(' ');
    const fence = Number(fenceText);
    if (kind === 'E') {
      if (inside !== null) overlaps++;
      if (fence <= lastFence) nonIncreasing++;
      lastFence = fence;
      inside = `${who} ${fence}`;
    } else {
      if (inside !== `${who} ${fence}`) overlaps++;
      inside = null;
    }
  }
  assert.equal(overlaps, 0, 'no two critical sections overlapped');
  assert.equal(nonIncreasing, 0, 'fences strictly increase in grant order');
  const most = Math.max(...grants);
  console.log(`# 10000 grants in ${Math.round(tookMs)} ms (${Math.round(10_000 / (tookMs / 1000))}/s); per contender min ${Math.min(...grants)} max ${most}`);
});

test('semaphore of 3 under 30 contenders across 2 processes: never more than 3 holders', async () => {
  const prefix = randomPrefix('p');
  const log = join(mkdtempSync(join(tmpdir(), 'redkit-sem-')), 'record.log');
  const procs = ['a', 'b'].map((id) =>
    spawnFixture('contender', { FIXTURE_PREFIX: prefix, FIXTURE_ID: id, LOCK_NAME: 'pool', LIMIT: '3', CONTENDERS: '15', ITERATIONS: '20', LOG_FILE: log }),
  );
  const ready: Array<Promise<void>> = [];
  const results = procs.map(
    (p) =>
      new Promise<number[]>((resolve, reject) => {
        ready.push(
          new Promise<void>((ok) =>
            p.on('message', (m: { ready?: boolean }) => {
              if (m.ready) ok();
            }),
          ),
        );
        p.on('message', (m: { done?: boolean; grants?: number[] }) => {
          if (m.done) resolve(m.grants!);
        });
        p.once('exit', (code) => {
          if (code !== 0) reject(new Error(`contender exited with ${code}`));
        });
      }),
  );
  await Promise.race([Promise.all(ready), Promise.all(results)]);
  for (const p of procs) p.send({ go: true });
  const grants = (await Promise.all(results)).flat();
  assert.equal(
    grants.reduce((a, b) => a + b, 0),
    600,
  );
  let inside = 0;
  let most = 0;
  const fences = new Set<string>();
  for (const line of readFileSync(log, 'utf8').trim().split('\n')) {
    const [kind, , fence] = line.split(' ');
    if (kind === 'E') {
      inside++;
      fences.add(fence!);
    } else inside--;
    most = Math.max(most, inside);
  }
  assert.equal(most, 3, 'at most 3 holders at once (and the slots were used)');
  assert.equal(fences.size, 600, 'every grant had its own fence');
});

/** The resource the test guards: it rejects every write whose fence is below the highest it has seen. */
function fenceCheckingResource() {
  let highest = 0;
  const accepted: Array<{ who: string; fence: number }> = [];
  const rejected: Array<{ who: string; fence: number }> = [];
  return {
    write(who: string, fence: number) {
      if (fence < highest) {
        rejected.push({ who, fence });
        return;
      }
      highest = fence;
      accepted.push({ who, fence });
    },
    accepted,
    rejected,
  };
}

function holder(prefix: string, who: string, resource: ReturnType<typeof fenceCheckingResource>) {
  const child = spawnFixture('holder', { FIXTURE_PREFIX: prefix, FIXTURE_ID: who });
  const state = { granted: 0, grantedAt: 0, error: '' };
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (m: { ready?: boolean; granted?: number; at?: number; write?: number; error?: string }) => {
      if (m.ready) resolve();
      if (m.granted) {
        state.granted = m.granted;
        state.grantedAt = m.at!;
      }
      if (m.write) resource.write(who, m.write);
      if (m.error) state.error = m.error;
    });
    child.once('exit', (code, signal) => reject(new Error(`holder ${who} exited (${code ?? signal}) before it was ready`)));
  });
  return { child, state, ready };
}

test("a holder SIGSTOPped past its TTL: another acquires, and the resumed holder's stale writes are all rejected", async () => {
  const prefix = randomPrefix('p');
  const resource = fenceCheckingResource();
  const a = holder(prefix, 'a', resource);
  const b = holder(prefix, 'b', resource);
  await Promise.all([a.ready, b.ready]);
  a.child.send({ cmd: 'acquire', name: 'job', ttl: 800, wait: 0 });
  await waitFor(() => resource.accepted.some((w) => w.who === 'a'), 3000, 'a first write by a');
  a.child.kill('SIGSTOP');
  const stoppedAt = Date.now();
  b.child.send({ cmd: 'acquire', name: 'job', ttl: 800, wait: 3000 });
  await waitFor(() => b.state.granted > 0, 4000, 'b to acquire');
  assert.ok(b.state.grantedAt - stoppedAt >= 600, "b was granted only after a's lease ran out");
  assert.ok(b.state.granted > a.state.granted);
  await waitFor(() => resource.accepted.some((w) => w.who === 'b'), 3000, 'a write by b');
  a.child.kill('SIGCONT');
  await waitFor(() => resource.rejected.filter((w) => w.who === 'a').length >= 5, 3000, 'the resumed holder to write again');
  const firstB = resource.accepted.findIndex((w) => w.who === 'b');
  const staleAccepted = resource.accepted.slice(firstB).filter((w) => w.who === 'a');
  assert.equal(staleAccepted.length, 0, '0 stale writes accepted');
  a.child.send({ cmd: 'exit' });
  b.child.send({ cmd: 'exit' });
});

test("Redis restarted mid-run: no grant for one TTL, and the old holder's writes are rejected after the new grant", async () => {
  const prefix = randomPrefix('p');
  const resource = fenceCheckingResource();
  const a = holder(prefix, 'a', resource);
  const b = holder(prefix, 'b', resource);
  await Promise.all([a.ready, b.ready]);
  a.child.send({ cmd: 'acquire', name: 'job', ttl: 1000, wait: 0 });
  await waitFor(() => resource.accepted.some((w) => w.who === 'a'), 3000, 'a first write by a');
  // The old server dies after this instant and the new one starts after it: the guard (one TTL
  // of the new server's uptime) must hold every grant back until restartedAt + TTL at least.
  const restartedAt = Date.now();
  await server.restart();
  // b's kit fails fast (RedisUnavailableError) until it has reconnected: ask again until it queues.
  await waitFor(
    async () => {
      b.state.error = '';
      b.child.send({ cmd: 'acquire', name: 'job', ttl: 1000, wait: 8000 });
      await waitFor(() => b.state.granted > 0 || b.state.error, 10_000, 'b to answer');
      if (b.state.error && !/disconnected|connecting|unavailable/i.test(b.state.error)) throw new Error(b.state.error);
      return b.state.granted > 0;
    },
    10_000,
    'b to acquire',
    100,
  );
  assert.ok(b.state.grantedAt - restartedAt >= 1000, `b was granted ${b.state.grantedAt - restartedAt} ms after the restart, not within one TTL`);
  assert.ok(b.state.granted > a.state.granted, 'the fence went on increasing across a restart without persistence');
  await waitFor(() => resource.accepted.some((w) => w.who === 'b'), 3000, 'a write by b');
  await sleep(200);
  const firstB = resource.accepted.findIndex((w) => w.who === 'b');
  assert.equal(resource.accepted.slice(firstB).filter((w) => w.who === 'a').length, 0, '0 stale writes accepted');
  assert.ok(resource.rejected.some((w) => w.who === 'a'));
  a.child.send({ cmd: 'exit' });
  b.child.send({ cmd: 'exit' });
});

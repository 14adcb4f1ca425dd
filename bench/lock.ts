// Locks: acquire+release cycles of redkit next to redlock (v4) and redis-semaphore (Mutex), on
// the same redis-server in one run. Uncontended: 50 keys, 50 loops (a loop takes a free key).
// Contended: 1 key, 10 contenders; hand-off latency = release sent → next holder's grant.
// BENCH_TOPOLOGY=cluster: the same on a local Redis Cluster (redkit vs redis-semaphore; redlock v4
// is left out there, it predates cluster clients).
import { createRequire } from 'node:module';
import { Mutex } from 'redis-semaphore';
import { createRedkit, silentLogger, type Redkit } from '../src/index.js';
import { stopRedis } from '../test/helpers/redis-server.js';
import { measure, printTable, type BenchResult } from './lib/measure.js';
import { describeServer, onCluster, startBenchRedis, targetOf } from './lib/topology.js';

// redlock v4 ships no types.
const Redlock = createRequire(import.meta.url)('redlock') as new (
  clients: unknown[],
  options: object,
) => {
  lock(resource: string, ttl: number): Promise<{ unlock(): Promise<void> }>;
};

interface Contender {
  name: string;
  /** Acquires (waiting as long as needed) and returns the release. */
  acquire(key: string): Promise<() => Promise<unknown>>;
}

const durationMs = Number(process.env.BENCH_MS ?? 3000);

async function uncontended(c: Contender): Promise<BenchResult> {
  const free = Array.from({ length: 50 }, (_, i) => `u:${c.name}:${i}`);
  return measure(
    `${c.name} uncontended (50 keys)`,
    async () => {
      const key = free.pop()!;
      const release = await c.acquire(key);
      await release();
      free.push(key);
    },
    { concurrency: 50, durationMs },
  );
}

async function contended(c: Contender): Promise<BenchResult & { maxShare: number; cycleP99: number }> {
  const key = `c:${c.name}`;
  const grants = new Array(10).fill(0);
  const handoffs: number[] = [];
  let releasedAt = 0;
  let ops = 0;
  const run = async (ms: number, record: boolean) => {
    const end = performance.now() + ms;
    await Promise.all(
      grants.map(async (_, i) => {
        while (performance.now() < end) {
          const release = await c.acquire(key);
          const now = performance.now();
          if (record && releasedAt > 0) handoffs.push(now - releasedAt);
          if (record) {
            grants[i]++;
            ops++;
          }
          releasedAt = performance.now();
          await release();
        }
      }),
    );
    releasedAt = 0;
  };
  await run(Math.min(500, durationMs / 4), false);
  const started = performance.now();
  await run(durationMs, true);
  const elapsed = performance.now() - started;
  handoffs.sort((a, b) => a - b);
  const pct = (p: number) => handoffs[Math.min(handoffs.length - 1, Math.floor(handoffs.length * p))] ?? 0;
  const total = grants.reduce((a, b) => a + b, 0);
  return {
    name: `${c.name} contended (1 key, 10 contenders)`,
    ops,
    opsPerSec: ops / (elapsed / 1000),
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    maxShare: Math.max(...grants) / total,
    cycleP99: 0,
  };
}

const server = await startBenchRedis();
console.log(`# locks — ${describeServer(server)}, ${durationMs} ms per row, node ${process.version}`);
// A fresh server is younger than the 10 s lock TTL: redkit's restart guard would hold grants back
// for 10 s; the bench shortens the guard to the 1 s of uptime it waits for (same work per call;
// uptime has whole-second resolution, so that is 2 s of waiting).
await new Promise((r) => setTimeout(r, 2100));
const kit: Redkit = await createRedkit({ ...targetOf(server), env: {}, logger: silentLogger, keyPrefix: 'bench', commandTimeoutMs: 5000 });
const anchorClient = () => kit.connection.dedicatedClient({ purpose: 'bench-anchor', overrides: { enableAutoPipelining: true, maxRetriesPerRequest: 1 } });
const redlockClient = anchorClient();
const semaphoreClient = anchorClient();
await Promise.all([redlockClient, semaphoreClient].map((c) => new Promise((resolve) => (c.status === 'ready' ? resolve(null) : c.once('ready', resolve)))));
const redlockUncontended = new Redlock([redlockClient], { retryCount: 0 });
const redlockContended = new Redlock([redlockClient], { retryCount: -1, retryDelay: 10, retryJitter: 5 });

const allContenders = (contendedMode: boolean): Contender[] => [
  {
    name: 'redkit',
    async acquire(key) {
      const lock = await kit.lock.acquire(key, { ttl: 10_000, wait: contendedMode ? 30_000 : 0, restartGuard: 1000 });
      return () => lock.release();
    },
  },
  {
    name: 'redis-semaphore Mutex',
    async acquire(key) {
      const mutex = new Mutex(semaphoreClient as never, key, { lockTimeout: 10_000, acquireTimeout: 30_000, retryInterval: 10, refreshInterval: 0 });
      await mutex.acquire();
      return () => mutex.release();
    },
  },
  {
    name: 'redlock v4',
    async acquire(key) {
      const lock = await (contendedMode ? redlockContended : redlockUncontended).lock(key, 10_000);
      return () => lock.unlock();
    },
  },
];

const contenders = (contendedMode: boolean) => allContenders(contendedMode).filter((c) => !onCluster || c.name !== 'redlock v4');

// Two rounds, reported from the second: the first warms up JIT, scripts and connections for all.
let un: BenchResult[] = [];
for (let round = 0; round < 2; round++) {
  un = [];
  for (const c of contenders(false)) un.push(await uncontended(c));
}
printTable('lock: acquire+release cycles, uncontended (50 keys, 50 loops)', un, 'redis-semaphore Mutex uncontended (50 keys)');

const co: Array<BenchResult & { maxShare: number }> = [];
for (const c of contenders(true)) co.push(await contended(c));
printTable(
  'lock: contended (1 key, 10 contenders) — p50/p99 are hand-off latency (release → next grant)',
  co,
  'redis-semaphore Mutex contended (1 key, 10 contenders)',
);
console.log('\nfairness: largest share of grants taken by one of 10 contenders (fair = 10 %)');
for (const r of co) console.log(`${r.name.padEnd(44)} ${(r.maxShare * 100).toFixed(1).padStart(6)} %`);

await kit.close();
await stopRedis(server);

// bench/cache: get and set at 100 concurrent, redkit side by side with raw ioredis (auto-pipelining
// on), cache-manager + @keyv/redis and bentocache, all on one redis-server started here; plus
// redkit's L1 tier and standalone (in-memory) mode. `BENCH_MS=2000 node dist/bench/cache.js`.
// `BENCH_TOPOLOGY=cluster` runs bench/lib/cache-cluster.ts instead: redkit vs raw ioredis Cluster.
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import KeyvRedis from '@keyv/redis';
import { BentoCache, bentostore } from 'bentocache';
import { redisDriver } from 'bentocache/drivers/redis';
import { memoryDriver } from 'bentocache/drivers/memory';
import { LRUCache } from 'lru-cache';
import { createRedkit, silentLogger } from '../src/index.js';
import { LruMap } from '../src/internals.js';
import { startRedis, stopRedis } from '../test/helpers/redis-server.js';
import { measure, printTable, type BenchResult } from './lib/measure.js';

const KEYS = 1000;
/** redkit's default command timeout (REDIS_COMMAND_TIMEOUT_MS). */
const kitCommandTimeoutMs = () => 2000;
const value = { id: 42, name: 'Ada Lovelace', tags: ['admin', 'beta'], active: true, score: 0.93 };
const key = (i: number) => `user:${i % KEYS}`;

if (process.env.BENCH_TOPOLOGY === 'cluster') {
  const { runClusterBench } = await import('./lib/cache-cluster.js');
  await runClusterBench();
  process.exit(0);
}

const server = await startRedis();
const url = server.url;
const notes: string[] = [];

// The baseline: what a hand-rolled cache on ioredis does — JSON both ways, SET with a TTL.
// Its client is an anchor, not redkit's, so it is created here and not in src/connection.
const raw = new Redis({ host: server.host, port: server.port, enableAutoPipelining: true });
// The same with the bounds redkit's shared client has (src/connection): a commandTimeout (a
// timer per command), no offline queue, one retry; this row shows what those bounds cost.
const rawBounded = new Redis({
  host: server.host,
  port: server.port,
  enableAutoPipelining: true,
  commandTimeout: kitCommandTimeoutMs(),
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
});
const kit = await createRedkit({ url, env: {}, logger: silentLogger, keyPrefix: 'bench' });
const standalone = await createRedkit({ env: {}, logger: silentLogger, keyPrefix: 'bench' });
const redkitCache = kit.cache.namespace<typeof value>('users', { ttl: '1h' });
const redkitL1 = kit.cache.namespace<typeof value>('users-l1', { ttl: '1h', l1: { maxEntries: KEYS * 2, ttl: '1h' } });
await redkitL1.ready();
const memoryCache = standalone.cache.namespace<typeof value>('users', { ttl: '1h' });

const keyv = new Keyv({ store: new KeyvRedis(url), namespace: 'cm' });
const cacheManager = createCache({ stores: [keyv], ttl: 3_600_000 });

let bento: BentoCache<any> | null = null;
let bentoMemory: BentoCache<any> | null = null;
try {
  bento = new BentoCache({
    default: 'redis',
    stores: { redis: bentostore().useL2Layer(redisDriver({ connection: { host: server.host, port: server.port } })) },
  });
  await bento.set({ key: 'probe', value: 1, ttl: '1h' });
  if ((await bento.get({ key: 'probe' })) !== 1) throw new Error('bentocache read back a different value');
} catch (err) {
  notes.push(
    `bentocache (redis driver) could not run with the installed ioredis ${createRequire(import.meta.url)('ioredis/package.json').version}: ${(err as Error).message}`,
  );
  bento = null;
}
try {
  bentoMemory = new BentoCache({ default: 'mem', stores: { mem: bentostore().useL1Layer(memoryDriver({ maxItems: KEYS * 2 })) } });
} catch (err) {
  notes.push(`bentocache (memory) could not run: ${(err as Error).message}`);
}

// Warm every store with the same keys.
for (let i = 0; i < KEYS; i++) {
  await raw.set(key(i), JSON.stringify(value), 'EX', 3600);
  await redkitCache.set(key(i), value);
  await redkitL1.set(key(i), value);
  await memoryCache.set(key(i), value);
  await cacheManager.set(key(i), value);
  await bento?.set({ key: key(i), value, ttl: '1h' });
  await bentoMemory?.set({ key: key(i), value, ttl: '1h' });
}
for (let i = 0; i < KEYS; i++) await redkitL1.get(key(i)); // fill L1

const ROUNDS = 3;
const roundMs = Math.max(300, Math.round(Number(process.env.BENCH_MS ?? 3000) / ROUNDS));

/**
 * Runs the scenarios interleaved, ROUNDS times each for BENCH_MS / ROUNDS, and keeps the median
 * round of each: on a shared machine, load that comes and goes then hits every row alike.
 */
async function interleaved(scenarios: Array<[string, (i: number) => Promise<unknown>]>): Promise<BenchResult[]> {
  const runs = new Map<string, BenchResult[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, op] of scenarios) {
      const r = await measure(name, op, { durationMs: roundMs, warmupMs: Math.min(200, roundMs / 4) });
      runs.set(name, [...(runs.get(name) ?? []), r]);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return scenarios.map(([name]) => {
    const rs = runs.get(name)!;
    return {
      name,
      ops: rs.reduce((s, r) => s + r.ops, 0),
      opsPerSec: median(rs.map((r) => r.opsPerSec)),
      p50Ms: median(rs.map((r) => r.p50Ms)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
    };
  });
}

const check = (v: unknown) => {
  if (v === undefined || v === null) throw new Error('benchmark read a miss: the warm-up failed');
};

type Scenario = [string, (i: number) => Promise<unknown>];
const getScenarios: Scenario[] = [
  ['raw ioredis get + JSON.parse', async (i) => check(JSON.parse((await raw.get(key(i)))!))],
  ['raw ioredis get, bounded (timeout, no queue)', async (i) => check(JSON.parse((await rawBounded.get(key(i)))!))],
  ['redkit get (Redis)', async (i) => check(await redkitCache.get(key(i)))],
  ['cache-manager + @keyv/redis get', async (i) => check(await cacheManager.get(key(i)))],
];
if (bento) getScenarios.push(['bentocache get (redis L2 only)', async (i) => check(await bento!.get({ key: key(i) }))]);
getScenarios.push(['redkit get (L1 hit)', async (i) => check(await redkitL1.get(key(i)))]);
getScenarios.push(['redkit get (standalone memory)', async (i) => check(await memoryCache.get(key(i)))]);
if (bentoMemory) getScenarios.push(['bentocache get (memory L1 only)', async (i) => check(await bentoMemory!.get({ key: key(i) }))]);
printTable(`cache get, 100 concurrent, 1,000 keys (median of ${ROUNDS} interleaved rounds)`, await interleaved(getScenarios), 'raw ioredis get + JSON.parse');

const setScenarios: Scenario[] = [
  ['raw ioredis set + JSON.stringify', (i) => raw.set(key(i), JSON.stringify(value), 'EX', 3600)],
  ['raw ioredis set, bounded (timeout, no queue)', (i) => rawBounded.set(key(i), JSON.stringify(value), 'EX', 3600)],
  ['redkit set (Redis)', (i) => redkitCache.set(key(i), value)],
  ['cache-manager + @keyv/redis set', (i) => cacheManager.set(key(i), value)],
];
if (bento) setScenarios.push(['bentocache set (redis L2 only)', (i) => bento!.set({ key: key(i), value, ttl: '1h' })]);
setScenarios.push(['redkit set (Redis + L1, publishes)', (i) => redkitL1.set(key(i), value)]);
setScenarios.push(['redkit set (standalone memory)', (i) => memoryCache.set(key(i), value)]);
if (bentoMemory) setScenarios.push(['bentocache set (memory L1 only)', (i) => bentoMemory!.set({ key: key(i), value, ttl: '1h' })]);
printTable(
  `cache set, 100 concurrent, 1,000 keys (median of ${ROUNDS} interleaved rounds)`,
  await interleaved(setScenarios),
  'raw ioredis set + JSON.stringify',
);

const hotScenarios: Scenario[] = [
  ['redkit getOrSet hit (Redis)', async (i) => check(await redkitCache.getOrSet(key(i), () => value))],
  ['cache-manager wrap hit', async (i) => check(await cacheManager.wrap(key(i), async () => value))],
];
if (bento)
  hotScenarios.push(['bentocache getOrSet hit (redis L2 only)', async (i) => check(await bento!.getOrSet({ key: key(i), factory: () => value, ttl: '1h' }))]);
printTable(`cache getOrSet (hits), 100 concurrent (median of ${ROUNDS} interleaved rounds)`, await interleaved(hotScenarios), 'redkit getOrSet hit (Redis)');

// Sets into a full LRU: every set evicts. Synchronous loops timed directly (no 100-concurrent
// promise loop), because the structure's own cost is what falls off when it is full.
function syncOps(run: (n: number) => void): number {
  let n = 0;
  const started = performance.now();
  while (performance.now() - started < roundMs) {
    run(n);
    n += 1000;
  }
  return n / ((performance.now() - started) / 1000);
}
const evictRows: BenchResult[] = [];
const entry = { value, expiresAt: Number.MAX_SAFE_INTEGER, staleUntil: Number.MAX_SAFE_INTEGER };
for (const size of [1_000, 10_000, 100_000]) {
  const ours = new LruMap<typeof value>({ maxEntries: size, maxBytes: Number.MAX_SAFE_INTEGER });
  const anchor = new LRUCache<string, typeof entry>({ max: size });
  const names = Array.from({ length: size * 2 }, (_, i) => `k${i}`);
  for (let i = 0; i < size; i++) {
    ours.set(names[i]!, entry, 80);
    anchor.set(names[i]!, entry);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  let at = size;
  const oursOps = median(
    Array.from({ length: ROUNDS }, () =>
      syncOps(() => {
        for (let j = 0; j < 1000; j++) ours.set(names[at++ % names.length]!, entry, 80);
      }),
    ),
  );
  const anchorOps = median(
    Array.from({ length: ROUNDS }, () =>
      syncOps(() => {
        for (let j = 0; j < 1000; j++) anchor.set(names[at++ % names.length]!, entry);
      }),
    ),
  );
  evictRows.push({ name: `redkit LruMap set, full at ${size.toLocaleString('en-US')}`, ops: 0, opsPerSec: oursOps, p50Ms: 0, p99Ms: 0 });
  evictRows.push({ name: `lru-cache 11 set, full at ${size.toLocaleString('en-US')}`, ops: 0, opsPerSec: anchorOps, p50Ms: 0, p99Ms: 0 });
}
for (const size of [10_000, 100_000]) {
  const full = standalone.cache.namespace<typeof value>(`full-${size}`, { ttl: '1h', maxEntries: size });
  for (let i = 0; i < size; i++) await full.set(`k${i}`, value);
  let at = size;
  const [r] = await interleaved([[`redkit set (standalone, full at ${size.toLocaleString('en-US')})`, () => full.set(`k${at++ % (size * 2)}`, value)]]);
  evictRows.push(r!);
}
printTable(`sets with eviction (every set evicts; LruMap rows: synchronous loop, median of ${ROUNDS})`, evictRows, 'lru-cache 11 set, full at 100,000');

console.log('\nredkit stats:', JSON.stringify(kit.cache.stats().users));
for (const note of notes) console.log(`note: ${note}`);
console.log(`note: ${ROUNDS} rounds of ${roundMs} ms per scenario, interleaved; the machine is shared, so numbers are noisy.`);

raw.disconnect();
rawBounded.disconnect();
await keyv.disconnect().catch(() => undefined);
await bento?.disconnect().catch(() => undefined);
await bentoMemory?.disconnect().catch(() => undefined);
await kit.close();
await standalone.close();
await stopRedis(server);

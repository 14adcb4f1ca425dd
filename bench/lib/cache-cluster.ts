// bench/cache on a Redis Cluster (`BENCH_TOPOLOGY=cluster node dist/bench/cache.js`): redkit's
// cache get/set/getMany against raw ioredis Cluster (auto-pipelining on, JSON both ways) on one
// 3-master/3-replica cluster started here. The bar: redkit >= 0.9x raw ioredis Cluster.
import { Cluster } from 'ioredis';
import { createRedkit, silentLogger } from '../../src/index.js';
import { startCluster } from '../../test/helpers/cluster.js';
import { measure, printTable, type BenchResult } from './measure.js';

const KEYS = 1000;
const MANY = 10;
const ROUNDS = 3;
const value = { id: 42, name: 'Ada Lovelace', tags: ['admin', 'beta'], active: true, score: 0.93 };

type Scenario = [string, (i: number) => Promise<unknown>];

/** Scenarios interleaved, ROUNDS times each, median round kept: load that comes and goes hits every row alike. */
async function interleaved(scenarios: Scenario[], roundMs: number): Promise<BenchResult[]> {
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

/** Starts a cluster, runs the three tables, stops everything. */
export async function runClusterBench(): Promise<void> {
  const roundMs = Math.max(300, Math.round(Number(process.env.BENCH_MS ?? 3000) / ROUNDS));
  const cluster = await startCluster();
  const seeds = cluster.seeds.map((s) => ({ host: s.host, port: s.port }));
  // The anchor: a hand-rolled cache on ioredis Cluster. Its client is not redkit's, so it is created here.
  const raw = new Cluster(seeds, { scaleReads: 'master', enableAutoPipelining: true });
  const kit = await createRedkit({ clusterNodes: seeds.map((s) => `${s.host}:${s.port}`).join(','), env: {}, logger: silentLogger, keyPrefix: 'bench' });
  try {
    const cache = kit.cache.namespace<typeof value>('users', { ttl: '1h' });
    const rawKey = (i: number) => `raw:user:${i % KEYS}`;
    const key = (i: number) => `user:${i % KEYS}`;
    // MANY keys from a moving window: they fall in MANY different slots, on all three masters.
    const window = (i: number, of: (j: number) => string) => Array.from({ length: MANY }, (_, j) => of(i * MANY + j));
    for (let i = 0; i < KEYS; i++) {
      await raw.set(rawKey(i), JSON.stringify(value), 'EX', 3600);
      await cache.set(key(i), value);
    }

    printTable(
      `cluster: cache get, 100 concurrent, ${KEYS} keys (median of ${ROUNDS} interleaved rounds)`,
      await interleaved(
        [
          ['raw ioredis Cluster get + JSON.parse', async (i) => check(JSON.parse((await raw.get(rawKey(i)))!))],
          ['redkit get (Cluster)', async (i) => check(await cache.get(key(i)))],
        ],
        roundMs,
      ),
      'raw ioredis Cluster get + JSON.parse',
    );
    printTable(
      `cluster: cache set, 100 concurrent, ${KEYS} keys (median of ${ROUNDS} interleaved rounds)`,
      await interleaved(
        [
          ['raw ioredis Cluster set + JSON.stringify', (i) => raw.set(rawKey(i), JSON.stringify(value), 'EX', 3600)],
          ['redkit set (Cluster)', (i) => cache.set(key(i), value)],
        ],
        roundMs,
      ),
      'raw ioredis Cluster set + JSON.stringify',
    );
    // Raw ioredis has no cross-slot MGET on a Cluster: the hand-rolled way is one GET per key, auto-pipelined.
    printTable(
      `cluster: getMany of ${MANY} keys over all masters, 100 concurrent (median of ${ROUNDS} interleaved rounds)`,
      await interleaved(
        [
          [
            `raw ioredis Cluster ${MANY}x get + JSON.parse`,
            async (i) => {
              for (const raw1 of await Promise.all(window(i, rawKey).map((k) => raw.get(k)))) check(JSON.parse(raw1!));
            },
          ],
          [
            `redkit getMany(${MANY}) (Cluster)`,
            async (i) => {
              for (const v of await cache.getMany(window(i, key))) check(v);
            },
          ],
        ],
        roundMs,
      ),
      `raw ioredis Cluster ${MANY}x get + JSON.parse`,
    );
    console.log('\nredkit stats:', JSON.stringify(cache.stats()));
    console.log(`note: ${ROUNDS} rounds of ${roundMs} ms per scenario, interleaved; the machine is shared, so numbers are noisy.`);
  } finally {
    raw.disconnect();
    await kit.close();
    await cluster.stop();
  }
}

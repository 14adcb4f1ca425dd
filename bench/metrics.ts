// bench/metrics: what metrics and events cost. Cache gets on the standalone memory store (the
// cheapest read redkit has, so any cost shows) with metrics disabled, enabled, and with event
// listeners; then the raw cost of one counter increment, histogram observation, unused event
// check and emitted event; then one Prometheus scrape of 1,000 series.
// `BENCH_MS=3000 node dist/bench/metrics.js`.
import { createRedkit, silentLogger } from '../src/index.js';
import { measure, printTable, type BenchResult } from './lib/measure.js';

const KEYS = 1000;
const value = { id: 42, name: 'Ada Lovelace', tags: ['admin', 'beta'], active: true, score: 0.93 };
const key = (i: number) => `user:${i % KEYS}`;

const kit = await createRedkit({ env: {}, logger: silentLogger, keyPrefix: 'bench' });
const cache = kit.cache.namespace<typeof value>('users', { ttl: '1h' });
for (let i = 0; i < KEYS; i++) await cache.set(key(i), value);

const ROUNDS = 5;
const roundMs = Math.max(300, Math.round(Number(process.env.BENCH_MS ?? 3000) / ROUNDS));

let hits = 0;
const countHit = () => {
  hits++;
};

/** Each scenario sets the kit up, runs, and undoes its setup; rounds interleave, median kept. */
type Scenario = [name: string, setup: () => () => void];
const scenarios: Scenario[] = [
  [
    'get, metrics disabled, no listener',
    () => {
      kit.metrics.enabled = false;
      return () => {
        kit.metrics.enabled = true;
      };
    },
  ],
  ['get, metrics enabled, no listener', () => () => {}],
  ['get, metrics enabled, a "hit" listener', () => kit.on('hit', countHit)],
  [
    'get, metrics enabled, "hit" + "miss" listeners',
    () => {
      const a = kit.on('hit', countHit);
      const b = kit.on('miss', countHit);
      return () => {
        a();
        b();
      };
    },
  ],
];

const runs = new Map<string, BenchResult[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, setup] of scenarios) {
    const undo = setup();
    const r = await measure(
      name,
      async (i) => {
        if ((await cache.get(key(i))) === undefined) throw new Error('benchmark read a miss');
      },
      { durationMs: roundMs, warmupMs: Math.min(200, roundMs / 4) },
    );
    undo();
    runs.set(name, [...(runs.get(name) ?? []), r]);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
printTable(
  `cache get, standalone memory store, 100 concurrent (median of ${ROUNDS} interleaved rounds)`,
  scenarios.map(([name]) => {
    const rs = runs.get(name)!;
    return {
      name,
      ops: rs.reduce((s, r) => s + r.ops, 0),
      opsPerSec: median(rs.map((r) => r.opsPerSec)),
      p50Ms: median(rs.map((r) => r.p50Ms)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
    };
  }),
  'get, metrics disabled, no listener',
);
if (hits === 0) throw new Error('the hit listener never ran: the cache does not emit events');

/** Nanoseconds per call of `fn`, median of 5 runs of `n` calls. */
function nsPerCall(fn: (i: number) => void, n = 5_000_000): number {
  const times: number[] = [];
  for (let run = 0; run < 5; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    times.push(Number(process.hrtime.bigint() - start) / n);
  }
  return median(times);
}

const counter = kit.metrics.counter({ name: 'redkit_bench_total', help: 'Bench.', labelNames: ['outcome'] }).labels({ outcome: 'ok' });
const histogram = kit.metrics.histogram({ name: 'redkit_bench_seconds', help: 'Bench.', labelNames: ['outcome'] }).labels({ outcome: 'ok' });
const events = kit.metrics.events;
let sink = 0;
const micro: Array<[string, number]> = [
  [
    'empty loop',
    nsPerCall((i) => {
      sink += i;
    }),
  ],
  ['bound counter inc()', nsPerCall(() => counter.inc())],
  ['bound histogram observe(0.003)', nsPerCall(() => histogram.observe(0.003))],
  [
    'unused event: if (events.wants.lockLost) emit',
    nsPerCall((i) => {
      if (events.wants.lockLost) events.emit('lockLost', { kind: 'lock', name: String(i) });
    }),
  ],
];
const off = kit.on('lockLost', () => {
  sink++;
});
micro.push([
  'used event: payload + emit to 1 listener',
  nsPerCall((i) => {
    if (events.wants.lockLost) events.emit('lockLost', { kind: 'lock', name: 'job' });
    sink += i;
  }, 2_000_000),
]);
off();
console.log('\n## cost per call (median of 5 runs)');
for (const [name, ns] of micro) console.log(`${name.padEnd(48)} ${ns.toFixed(1).padStart(8)} ns`);

const wide = kit.metrics.counter({ name: 'redkit_bench_wide_total', help: 'Bench.', labelNames: ['namespace', 'outcome'] });
for (let i = 0; i < 1000; i++) wide.inc({ namespace: `ns${i % 100}`, outcome: `o${Math.floor(i / 100)}` });
const scrapes: number[] = [];
let bytes = 0;
for (let i = 0; i < 20; i++) {
  const start = performance.now();
  bytes = (await kit.metrics.prometheus()).length;
  scrapes.push(performance.now() - start);
}
console.log(`\n## prometheus() with ~1,000 series: ${median(scrapes).toFixed(2)} ms median of 20 (${bytes.toLocaleString('en-US')} bytes)`);
if (sink < 0) console.log(sink);
await kit.close();

// Session store: get / set / touch ops/s and p50/p99 at 100 concurrent over 10 000 sessions,
// redkit's store side by side with connect-redis 10 (on a node-redis 5 client, which it
// requires) on one redis-server in one run. Both stores are driven through the callback API
// that express-session calls. Session data: a ~300-byte JSON object with a 1 h cookie.
// redkit is measured with both Redis-down policies: 'cache' also keeps a copy of each session
// it sees in-process (the cost of surviving an outage), 'fail' does not.
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { createRedkit, silentLogger, type SessionStore } from '../src/index.js';
import { startRedis, stopRedis } from '../test/helpers/redis-server.js';
import { measure, printTable, type BenchResult } from './lib/measure.js';

const durationMs = Number(process.env.BENCH_MS ?? 3000);
const concurrency = 100;
const SESSIONS = 10_000;

const server = await startRedis();
const kit = await createRedkit({ url: server.url, logger: silentLogger, env: {}, keyPrefix: 'bench' });
const nodeRedis = createClient({ url: server.url });
await nodeRedis.connect();

const sessionOf = (i: number) => ({
  cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000).toISOString(), httpOnly: true, path: '/', secure: false, sameSite: 'lax' },
  user: { id: i, name: `user-${i}`, email: `user-${i}@example.com`, roles: ['member'] },
  csrf: 'b1946ac92492d2347c6235b4d2611184',
  cart: [
    { sku: 'A-100', qty: 1 },
    { sku: 'B-200', qty: 3 },
  ],
  lastSeen: Date.now(),
});
const sid = (i: number) => `sess-${(i % SESSIONS).toString(36).padStart(6, '0')}`;

type Store = {
  get(s: string, cb: (err: unknown, v?: unknown) => void): void;
  set(s: string, d: object, cb: (err?: unknown) => void): void;
  touch(s: string, d: object, cb: (err?: unknown) => void): void;
};
const cbToPromise = (fn: (cb: (err?: unknown, v?: unknown) => void) => void) =>
  new Promise<unknown>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));

const connectRedis = new RedisStore({ client: nodeRedis, prefix: 'cr:' }) as unknown as Store;
const cacheStore: SessionStore = kit.sessionStore({ onRedisDown: 'cache' });
const failStore: SessionStore = kit.sessionStore({ onRedisDown: 'fail' });
const contenders: Array<[string, Store]> = [
  ['connect-redis 10 (node-redis 5)', connectRedis],
  ["redkit onRedisDown 'cache'", cacheStore.express(session) as unknown as Store],
  ["redkit onRedisDown 'fail'", failStore.express(session) as unknown as Store],
];

// Every store holds the same sessions before reads and touches are measured.
for (const [, store] of contenders) {
  for (let i = 0; i < SESSIONS; i += 500) {
    await Promise.all(Array.from({ length: 500 }, (_, j) => cbToPromise((cb) => store.set(sid(i + j), sessionOf(i + j), cb))));
  }
}

// Rows are interleaved in short rounds and each row reports its median round: on a shared
// machine one long row after another mostly measures what the neighbours did meanwhile.
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const roundMs = Math.max(200, Math.round(durationMs / rounds));
console.log(
  `# session store — ${concurrency} concurrent, ${rounds} interleaved rounds of ${roundMs} ms per row (median round shown), ${SESSIONS} sessions, redis-server ${server.port}, node ${process.version}`,
);
for (const [title, op] of [
  ['get', (store: Store, i: number) => cbToPromise((cb) => store.get(sid(i), cb))],
  ['set', (store: Store, i: number) => cbToPromise((cb) => store.set(sid(i), sessionOf(i), cb))],
  ['touch', (store: Store, i: number) => cbToPromise((cb) => store.touch(sid(i), sessionOf(i), cb))],
] as const) {
  const byRow = new Map<string, BenchResult[]>(contenders.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    // The order rotates each round: measured here, the first row of a round ran up to 3× slower
    // whichever store it was (it pays for the garbage the rows before it left).
    for (let k = 0; k < contenders.length; k++) {
      const [name, store] = contenders[(round + k) % contenders.length]!;
      byRow.get(name)!.push(await measure(name, (i) => op(store, i), { concurrency, durationMs: roundMs, warmupMs: 100 }));
    }
  }
  const medians = [...byRow.values()].map((results) => results.sort((a, b) => a.opsPerSec - b.opsPerSec)[Math.floor(results.length / 2)]!);
  printTable(`${title}: ops/s (median of ${rounds} rounds)`, medians, 'connect-redis 10 (node-redis 5)');
}

await nodeRedis.quit();
await kit.close();
await stopRedis(server);

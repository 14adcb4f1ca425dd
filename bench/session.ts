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
  cart: [{ sku: 'A-100', qty: 1 }, { sku: 'B-200', qty: 3 }],
  lastSeen: Date.now(),
});
const sid = (i: number) => `sess-${(i % SESSIONS).toString(36).padStart(6, '0')}`;

type Store = { get(s: string, cb: (err: unknown, v?: unknown) => void): void; set(s: string, d: object, cb: (err?: unknown) => void): void; touch(s: string, d: object, cb: (err?: unknown) => void): void };
const cbToPromise = (fn: (cb: (err?: unknown, v?: unknown) => void) => void) => new Promise<unknown>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));

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

console.log(`# session store — ${concurrency} concurrent, ${durationMs} ms per row, ${SESSIONS} sessions, redis-server ${server.port}, node ${process.version}`);
const passes = Number(process.env.BENCH_PASSES ?? 2);
for (let pass = 1; pass <= passes; pass++) {
  for (const [title, op] of [
    ['get', (store: Store, i: number) => cbToPromise((cb) => store.get(sid(i), cb))],
    ['set', (store: Store, i: number) => cbToPromise((cb) => store.set(sid(i), sessionOf(i), cb))],
    ['touch', (store: Store, i: number) => cbToPromise((cb) => store.touch(sid(i), sessionOf(i), cb))],
  ] as const) {
    const results: BenchResult[] = [];
    for (const [name, store] of contenders) results.push(await measure(name, (i) => op(store, i), { concurrency, durationMs }));
    printTable(`pass ${pass}/${passes} — ${title}: ops/s`, results, 'connect-redis 10 (node-redis 5)');
  }
}

await nodeRedis.quit();
await kit.close();
await stopRedis(server);

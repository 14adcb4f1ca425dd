// Rate limiting: decisions/s and p50/p99 at 100 concurrent, distinct keys and one hot key, on
// one redis-server in one run. Anchors: rate-limiter-flexible's RateLimiterRedis (one Lua
// script per decision, like redkit), and a Redis storage for @nestjs/throttler.
//
// @nest-lab/throttler-storage-redis 1.2.0 does not install here: `npm install` fails with
// ERESOLVE (its peers stop at @nestjs/common ^11; this project has 12). So the throttler rows
// compare redkit's storage with (a) the throttler's own in-memory storage (per instance, not
// shared) and (b) a minimal equivalent written here — INCR + PEXPIRE + block key in one Lua
// script, the pattern the common Redis storages use — clearly labelled as such.
//
// Limits are set so high that every decision is an admission: the same work for every row.
// redkit batches concurrent decisions of one key behind the one in flight (see the README), so
// the hot-key rows show that; the distinct-key rows are one script call per decision for all.
// BENCH_TOPOLOGY=cluster: the same rows on a local Redis Cluster (the minimal storage's two keys
// share a hash tag there, as any Lua script's keys must).
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { ThrottlerStorageService } from '@nestjs/throttler';
import { createRedkit, silentLogger, RedkitThrottlerStorage, type RateLimitAlgorithm } from '../src/index.js';
import { stopRedis } from '../test/helpers/redis-server.js';
import { measure, printTable, type BenchResult } from './lib/measure.js';
import { describeServer, startBenchRedis, targetOf } from './lib/topology.js';

const durationMs = Number(process.env.BENCH_MS ?? 3000);
const concurrency = 100;
const BIG = 1_000_000_000;

// The minimal throttler Redis storage (see the header): one script, counts and block key.
const MINIMAL_THROTTLER_LUA = `
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
local blockTtl = redis.call('PTTL', KEYS[2])
if blockTtl <= 0 and hits > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], 1, 'PX', ARGV[3]); blockTtl = tonumber(ARGV[3])
end
if blockTtl < 0 then blockTtl = 0 end
return {hits, ttl, blockTtl}`;

const server = await startBenchRedis();
const kit = await createRedkit({ ...targetOf(server), logger: silentLogger, env: {}, keyPrefix: 'bench' });

// Anchors get their own clients from the same connection settings; with and without ioredis
// auto-pipelining (redkit's shared client batches its writes per tick instead).
const rlfPiped = new RateLimiterRedis({
  storeClient: kit.connection.dedicatedClient({ purpose: 'bench-rlf-piped', overrides: { enableAutoPipelining: true } }),
  points: BIG,
  duration: 60,
  keyPrefix: 'rlf1',
});
const rlfPlain = new RateLimiterRedis({ storeClient: kit.connection.dedicatedClient({ purpose: 'bench-rlf' }), points: BIG, duration: 60, keyPrefix: 'rlf2' });
const minimalClient = kit.connection.dedicatedClient({ purpose: 'bench-minimal-throttler', overrides: { enableAutoPipelining: true } });
minimalClient.defineCommand('minimalThrottlerIncrement', { numberOfKeys: 2, lua: MINIMAL_THROTTLER_LUA });
const minimal = minimalClient as unknown as { minimalThrottlerIncrement(...args: Array<string | number>): Promise<number[]> };
const nestMemory = new ThrottlerStorageService();
const storage = new RedkitThrottlerStorage(kit);
const storageFixed = new RedkitThrottlerStorage(kit, { algorithm: 'fixed-window' });
await new Promise((r) => setTimeout(r, 300)); // let the dedicated clients connect

const limiters = Object.fromEntries(
  (['fixed-window', 'token-bucket', 'sliding-window'] as RateLimitAlgorithm[]).map((algorithm) => [
    algorithm,
    kit.rateLimiter({ algorithm, limit: BIG, windowMs: 60_000, name: `bench-${algorithm}` }),
  ]),
);

type Op = (key: string) => Promise<unknown>;
const contenders: Array<[string, Op]> = [
  ['rate-limiter-flexible RateLimiterRedis', (k) => rlfPlain.consume(k)],
  ['rate-limiter-flexible (auto-pipelining)', (k) => rlfPiped.consume(k)],
  ['redkit fixed-window', (k) => limiters['fixed-window']!.consume(k)],
  ['redkit token-bucket', (k) => limiters['token-bucket']!.consume(k)],
  ['redkit sliding-window (exact log)', (k) => limiters['sliding-window']!.consume(k)],
  ['redkit ThrottlerStorage (Redis, default log)', (k) => storage.increment(k, 60_000, BIG, 60_000, 'default')],
  ['redkit ThrottlerStorage (Redis, fixed-window)', (k) => storageFixed.increment(k, 60_000, BIG, 60_000, 'fixed')],
  ['minimal throttler Redis storage (see header)', (k) => minimal.minimalThrottlerIncrement(`mt:{${k}}`, `mt:{${k}}:block`, 60_000, BIG, 60_000)],
  ['@nestjs/throttler in-memory (not shared)', (k) => nestMemory.increment(k, 60_000, BIG, 60_000, 'default')],
];

console.log(`# rate limiting — ${concurrency} concurrent, ${durationMs} ms per row, ${describeServer(server)}, node ${process.version}`);
console.log(
  '# @nest-lab/throttler-storage-redis: not installable here (npm ERESOLVE: peer @nestjs/common ^7–^11 vs 12.5.1); rows labelled "minimal" and "in-memory" stand in for it',
);
// Two passes by default: on a shared machine one pass mostly measures the neighbours; the
// spread between passes shows how much of a difference is noise.
const passes = Number(process.env.BENCH_PASSES ?? 2);
for (let pass = 1; pass <= passes; pass++) {
  for (const [title, keyOf] of [
    ['distinct keys (10 000)', (i: number) => `user:${i % 10_000}`],
    ['one hot key', () => 'hot'],
  ] as const) {
    const results: BenchResult[] = [];
    for (const [name, op] of contenders) {
      // The sliding log keeps one entry per admitted hit: with a hot key and an unreachable limit it grows for the whole run (shown, not hidden).
      results.push(await measure(name, (i) => op(keyOf(i)), { concurrency, durationMs }));
    }
    printTable(`pass ${pass}/${passes} — ${title}: decisions/s`, results, 'rate-limiter-flexible RateLimiterRedis');
  }
}

await kit.close();
await stopRedis(server);
nestMemory.onApplicationShutdown();

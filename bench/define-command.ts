// What ioredis `defineCommand` costs on redkit's shared client, which batches writes per tick
// with auto-pipelining off (src/connection/batching/README.md). Two questions, same redis-server:
// 1. Do defined commands slow plain GETs? (The old claim, measured with auto-pipelining on.)
// 2. One script call through defineCommand next to redkit's own caller (defineScripts, not batched),
//    on the same script text (src/lease/lua/release-1.lua).
import { readFileSync } from 'node:fs';
import { createRedkit, silentLogger } from '../src/index.js';
import { releaseLease } from '../src/lease/lease.js';
import { startRedis, stopRedis } from '../test/helpers/redis-server.js';
import { measure, printTable, type BenchResult } from './lib/measure.js';

const server = await startRedis();
const kit = await createRedkit({ url: server.url, logger: silentLogger, env: {}, keyPrefix: 'bench' });
const client = kit.redis!;
const releaseLua = readFileSync(new URL('../src/lease/lua/release-1.lua', import.meta.url), 'utf8');
await client.set('bench:get', 'x');

const gets = (name: string) => measure(name, () => client.get('bench:get'), { concurrency: 100 });
const passes = Number(process.env.BENCH_PASSES ?? 2);
const before: BenchResult[] = [];
for (let i = 0; i < passes; i++) before.push(await gets(`GET, no command defined (pass ${i + 1})`));
// As many commands as redkit has scripts (24).
for (let i = 0; i < 24; i++) client.defineCommand(`benchScript${i}`, { numberOfKeys: 1, lua: `return ${i}` });
client.defineCommand('benchRelease', { numberOfKeys: 1, lua: releaseLua });
const defined = client as unknown as { benchRelease(key: string, token: string): Promise<number> };
const after: BenchResult[] = [];
for (let i = 0; i < passes; i++) after.push(await gets(`GET, 25 commands defined (pass ${i + 1})`));
printTable('plain GET, 100 concurrent, shared client: ops/s', [...before, ...after], 'GET, no command defined (pass 1)');

const scripts: BenchResult[] = [];
for (let i = 0; i < passes; i++) {
  scripts.push(await measure(`defineCommand script (pass ${i + 1})`, (n) => defined.benchRelease(`bench:l:${n % 1000}`, 't'), { concurrency: 100 }));
  scripts.push(await measure(`defineScripts caller (pass ${i + 1})`, (n) => releaseLease(client, `bench:l:${n % 1000}`, 't'), { concurrency: 100 }));
}
printTable('one script call (lease release), 100 concurrent: calls/s', scripts, 'defineCommand script (pass 1)');

await kit.close();
await stopRedis(server);

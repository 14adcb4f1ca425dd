// Runs the capability contract suites, the multi-process tests, the reference server's and the
// NestJS tests again with every test server replaced by a real Sentinel
// set (REDKIT_TEST_TOPOLOGY=sentinel: 1 master, 2 replicas, 3 sentinels), then by a real Redis
// Cluster (REDKIT_TEST_TOPOLOGY=cluster: 3 masters, 3 replicas; see test/helpers/redis-server.ts).
// Expects a build (`npm test` builds). `npm run test:topologies`. Kept out of `npm test` for time.
import { spawnSync } from 'node:child_process';

const files = [
  'cache/contract',
  'lock/contract',
  'ratelimit/contract',
  'realtime/contract',
  'session/contract',
  'jobs/store',
  'queue/queue',
  'queue/queue-redis-down',
  // Several processes on one deployment, the reference server, and a real Nest app: each given
  // the topology's URL (redis+sentinel:// or redis+cluster://) as a user would.
  'lock/processes',
  'leader/processes',
  'cache/multiprocess',
  'ratelimit/limiter',
  'ratelimit/nest',
  'queue/cross-process',
  'app/server',
  'nestjs/module',
  'nestjs/lifecycle',
].map((suite) => `dist/test/${suite}.test.js`);
const started = Date.now();
const seconds = (from) => Math.round((Date.now() - from) / 1000);
// First the topology tests themselves (the helpers, Sentinel failover, cluster faults, doctor):
// each file starts its own Cluster or Sentinel set.
const own = spawnSync(process.execPath, ['scripts/run-tests.mjs', 'dist/test/topology/', 'dist/test/sentinel/'], { stdio: 'inherit' });
console.log(`test:topologies (own topology tests): ${seconds(started)} s`);
let failed = own.status !== 0;
// No --test-force-exit: a file that passes and then does not exit has left a handle open, a bug.
for (const topology of ['sentinel', 'cluster']) {
  const from = Date.now();
  const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=180000', ...files], {
    stdio: 'inherit',
    env: { ...process.env, REDKIT_TEST_TOPOLOGY: topology },
  });
  console.log(`test:topologies (${topology}): ${files.length} suites in ${seconds(from)} s`);
  failed ||= result.status !== 0;
}
console.log(`test:topologies: ${seconds(started)} s in all`);
process.exit(failed ? 1 : 0);

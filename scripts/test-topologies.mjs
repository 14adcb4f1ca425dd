// Runs the capability contract suites again with every test server replaced by a real Sentinel
// set (REDKIT_TEST_TOPOLOGY=sentinel: 1 master, 2 replicas, 3 sentinels; see
// test/helpers/redis-server.ts). Expects a build (`npm test` builds). `npm run test:topologies`.
// Cluster joins here once the connection speaks it.
import { spawnSync } from 'node:child_process';

const files = ['cache/contract', 'lock/contract', 'ratelimit/contract', 'realtime/contract', 'session/contract', 'jobs/store', 'queue/queue'].map(
  (suite) => `dist/test/${suite}.test.js`,
);
const started = Date.now();
// First the topology tests themselves (the helpers, Sentinel failover, doctor): kept out of
// `npm test` for time, since each file starts its own Cluster or Sentinel set.
const own = spawnSync(process.execPath, ['scripts/run-tests.mjs', 'dist/test/topology/', 'dist/test/sentinel/'], { stdio: 'inherit' });
if (own.status !== 0) process.exit(own.status ?? 1);
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=180000', ...files], {
  stdio: 'inherit',
  env: { ...process.env, REDKIT_TEST_TOPOLOGY: 'sentinel' },
});
console.log(`test:topologies (sentinel): ${files.length} suites in ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(result.status ?? 1);

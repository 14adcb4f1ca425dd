// Runs the capability contract suites again with every test server replaced by a real Sentinel
// set (REDKIT_TEST_TOPOLOGY=sentinel: 1 master, 2 replicas, 3 sentinels; see
// test/helpers/redis-server.ts). Expects a build (`npm test` builds). `npm run test:topologies`.
// Cluster joins here once the connection speaks it.
import { spawnSync } from 'node:child_process';

const suites = [
  'cache/contract', 'lock/contract', 'ratelimit/contract', 'realtime/contract',
  'session/contract', 'jobs/store', 'queue/queue',
];
const started = Date.now();
const result = spawnSync(process.execPath, ['scripts/run-tests.mjs', ...suites], {
  stdio: 'inherit',
  env: { ...process.env, REDKIT_TEST_TOPOLOGY: 'sentinel' },
});
console.log(`test:topologies (sentinel): ${suites.length} suites in ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(result.status ?? 1);

// Runs every compiled test file with node's test runner, one file at a time by default: several
// tests check behaviour against a clock (a join seen everywhere within 200 ms, a new leader
// within ttl + 1 s) and another file's processes on the same 2 cores would measure the machine,
// not redkit. Each file starts its own redis-server, so TEST_CONCURRENCY=2 works when speed matters more.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = 'dist/test';
const only = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.js')) files.push(path);
  }
})(root);
// The topology suites (a real Cluster and Sentinel set per file: minutes) run in
// scripts/test-topologies.mjs, which CI also runs; a path filter still selects them here.
const TOPOLOGY_DIRS = [join(root, 'topology') + '/', join(root, 'sentinel') + '/'];
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files.filter((f) => !TOPOLOGY_DIRS.some((d) => f.startsWith(d)));
if (selected.length === 0) {
  console.error(`no test files matched ${only.join(' ')}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? '1'}`, '--test-timeout=180000', ...selected], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);

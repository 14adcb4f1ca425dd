// Runs bench/<name>.js files one after another (they start their own redis-server).
// `npm run bench` runs all; `npm run bench -- cache lock` runs the named ones.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const only = process.argv.slice(2);
const files = readdirSync('dist/bench')
  .filter((f) => f.endsWith('.js'))
  .map((f) => f.replace(/\.js$/, ''));
const selected = only.length ? files.filter((f) => only.includes(f)) : files;
let failed = 0;
for (const name of selected) {
  console.log(`\n# bench/${name}`);
  const r = spawnSync(process.execPath, [`dist/bench/${name}.js`], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);

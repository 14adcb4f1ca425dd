// `import 'redkit'` never loads NestJS: a child process records every module resolution (a
// node:module hook) while it imports 'redkit' and uses every capability against a real Redis.
// The control run imports 'redkit/nestjs' and must show @nestjs/common, so the check can fail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix } from '../helpers/util.js';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/import-only.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'redkit-loads-'));
let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await stopRedis(server);
  rmSync(dir, { recursive: true, force: true });
});

async function loadedBy(target: string): Promise<string[]> {
  const logFile = join(dir, `${target.replace(/\W/g, '_')}.log`);
  const { stdout } = await run(process.execPath, [fixture, target, logFile], {
    env: { PATH: process.env.PATH ?? '', FIXTURE_REDIS_URL: server.url, FIXTURE_PREFIX: randomPrefix() },
    timeout: 30_000,
  });
  assert.equal(stdout.trim(), 'done');
  return readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
}

const NEST = /\/node_modules\/(@nestjs\/|reflect-metadata\/|rxjs\/)/;

test("import 'redkit' and using every capability loads no @nestjs/*, reflect-metadata or rxjs module", async () => {
  const urls = await loadedBy('redkit');
  assert.ok(
    urls.some((u) => u.endsWith('/dist/src/index.js')),
    'the hook saw redkit itself',
  );
  assert.ok(
    urls.some((u) => u.includes('/node_modules/bullmq/')),
    'and its lazily used dependencies',
  );
  assert.deepEqual(
    urls.filter((u) => NEST.test(u)),
    [],
  );
  assert.deepEqual(
    urls.filter((u) => u.includes('/dist/src/nestjs/')),
    [],
  );
});

// redkit/nestjs loads its integration with require(esm) (after checking the peers are installed),
// and on Node 20 neither the hook nor the CommonJS cache sees an ES module loaded that way (Nest 12
// is ESM): the control therefore looks for the integration's CommonJS peers, reflect-metadata and rxjs.
test("control: import 'redkit/nestjs' does load reflect-metadata and rxjs (the detector can fail)", async () => {
  const urls = await loadedBy('redkit/nestjs');
  assert.ok(
    urls.some((u) => u.includes('/node_modules/reflect-metadata/')),
    urls.join('\n'),
  );
  assert.ok(
    urls.some((u) => u.includes('/node_modules/rxjs/')),
    urls.join('\n'),
  );
  assert.ok(
    urls.some((u) => u.endsWith('/dist/src/nestjs/api.js')),
    'and the integration itself',
  );
  // Terminus and the throttler stay optional even for Nest users: the integration never imports them.
  assert.deepEqual(
    urls.filter((u) => /\/node_modules\/@nestjs\/(terminus|throttler)\//.test(u)),
    [],
  );
});

test('package.json: NestJS packages are optional peer dependencies; redkit/nestjs is a subpath export', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    exports: Record<string, unknown>;
    dependencies: Record<string, string>;
    peerDependencies: Record<string, string>;
    peerDependenciesMeta: Record<string, { optional?: boolean }>;
  };
  assert.deepEqual(pkg.exports['./nestjs'], { types: './dist/src/nestjs/index.d.ts', default: './dist/src/nestjs/index.js' });
  for (const name of ['@nestjs/common', '@nestjs/core', '@nestjs/throttler', '@nestjs/terminus', 'reflect-metadata', 'rxjs']) {
    assert.ok(pkg.peerDependencies[name], `${name} is a peer`);
    assert.equal(pkg.peerDependenciesMeta[name]?.optional, true, `${name} is optional`);
    assert.equal(pkg.dependencies[name], undefined, `${name} is not a dependency`);
  }
});

// Installs redkit the way users do: `npm pack` (its prepack builds dist), then the tarball into
// scratch projects, each installed from the npm registry with plain `npm install` (no
// --legacy-peer-deps, so peer ranges are checked):
//   plain      no NestJS: ESM import and CommonJS require run a standalone cache; redkit/nestjs
//              throws the clear E_NEST_NOT_INSTALLED error, by import and by require.
//   nest11-ts5 NestJS 11 + TypeScript 5, module commonjs / moduleResolution node: the smoke
//              compiles (redkit/nestjs through typesVersions) and runs; then the module and
//              throttler tests (compiled in this repo) run against the tarball and Nest 11.
//   nest12-ts7 NestJS 12 + TypeScript 7, ESM (nodenext): the smoke compiles and runs.
// Usage: node scripts/pack-smoke.mjs [--keep]  (needs redis-server for the Nest 11 tests, and
// the registry; the Nest 11 step copies dist/test and dist/examples that the prepack build wrote).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..');
const keep = process.argv.includes('--keep');
const work = mkdtempSync(join(tmpdir(), 'redkit-pack-'));
// No REDIS_* from the caller's shell: the smokes must run standalone.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REDIS_')));
const started = Date.now();
const timings = [];

function step(name, fn) {
  const t0 = Date.now();
  console.log(`\n## ${name}`);
  const result = fn();
  timings.push([name, Date.now() - t0]);
  return result;
}
function run(cmd, args, cwd, opts = {}) {
  return execFileSync(cmd, args, { cwd, env, stdio: opts.capture ? 'pipe' : 'inherit', encoding: 'utf8', timeout: opts.timeout ?? 300_000 });
}
function project(name, pkg, files) {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `smoke-${name}`, private: true, ...pkg }, null, 2));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}
function npmInstall(dir, specs) {
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs], dir);
}
function expectFailure(cmd, args, cwd, pattern, what) {
  try {
    run(cmd, args, cwd, { capture: true });
  } catch (err) {
    const out = `${err.stdout ?? ''}${err.stderr ?? ''}`;
    if (!pattern.test(out)) throw new Error(`${what}: failed, but without ${pattern}:\n${out}`);
    console.log(`${what}: fails as expected (${pattern})`);
    return;
  }
  throw new Error(`${what}: expected a failure, it passed`);
}

// The smoke every project runs: standalone kit, cache set/get, close.
const smokeBody = `
  const kit = await createRedkit({ logger: silentLogger });
  if (kit.mode !== 'standalone') throw new Error('expected standalone, got ' + kit.mode);
  const cache = kit.cache.namespace('smoke', { ttl: '1m' });
  await cache.set('k', { n: 42 });
  const got = await cache.get('k');
  if (!got || got.n !== 42) throw new Error('cache get returned ' + JSON.stringify(got));
  await kit.close();`;
const nestMissing = /E_NEST_NOT_INSTALLED[\s\S]*npm install @nestjs\/common @nestjs\/core reflect-metadata rxjs/;

// A TypeScript smoke: typed cache, and a class injected by type from redkit/nestjs, whose emitted
// decorator metadata must name the real class (what Nest's DI reads).
const tsSmoke = `import 'reflect-metadata';
import { createRedkit, silentLogger, type Cache } from 'redkit';
import { RedkitModule, RedkitCacheService, type RedkitModuleOptions } from 'redkit/nestjs';
import { Injectable } from '@nestjs/common';

@Injectable()
class UsesCache {
  constructor(readonly caches: RedkitCacheService) {}
}

async function main(): Promise<void> {
  const options: RedkitModuleOptions = { logger: silentLogger };
  const kit = await createRedkit(options);
  const cache: Cache<{ n: number }> = kit.cache.namespace<{ n: number }>('smoke', { ttl: '1m' });
  await cache.set('k', { n: 42 });
  const got = await cache.get('k');
  if (got?.n !== 42) throw new Error('cache get returned ' + JSON.stringify(got));
  await kit.close();
  if (typeof RedkitModule.forRoot !== 'function') throw new Error('RedkitModule.forRoot missing');
  const params = (Reflect as unknown as { getMetadata(k: string, t: object): unknown[] }).getMetadata('design:paramtypes', UsesCache);
  if (params[0] !== RedkitCacheService) throw new Error('decorator metadata does not name RedkitCacheService');
  console.log('ts smoke ok');
}
main().catch((err) => { console.error(err); process.exit(1); });
`;
const tsOptions = {
  strict: true,
  esModuleInterop: true,
  skipLibCheck: false,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  types: ['node'],
  outDir: 'out',
  target: 'ES2022',
};
const nestMajor = (dir) => JSON.parse(readFileSync(join(dir, 'node_modules/@nestjs/common/package.json'), 'utf8')).version;

try {
  const tarball = step('npm pack (prepack builds dist)', () => {
    const out = run('npm', ['pack', '--json', '--pack-destination', work], repo, { capture: true });
    // The prepack build prints to the same stdout; the JSON report comes last.
    const [info] = JSON.parse(out.slice(out.lastIndexOf('\n[') + 1));
    const files = info.files.map((f) => f.path);
    const need = [
      'dist/src/index.js',
      'dist/src/internals.js',
      'dist/src/nestjs/index.js',
      'dist/src/nestjs/index.d.ts',
      'dist/src/cli/main.js',
      'LICENSE',
      'CHANGELOG.md',
      'README.md',
    ];
    for (const f of need) if (!files.includes(f)) throw new Error(`the tarball lacks ${f}`);
    if (!files.some((f) => f.endsWith('.lua'))) throw new Error('the tarball has no Lua scripts');
    const maps = files.filter((f) => f.endsWith('.map'));
    if (maps.length) throw new Error(`the tarball ships source maps of unshipped sources: ${maps.slice(0, 3).join(', ')}`);
    if (files.some((f) => f.startsWith('dist/test/') || f.startsWith('src/'))) throw new Error('the tarball ships tests or sources');
    console.log(`${info.filename}: ${files.length} files, ${info.size} bytes packed, ${info.unpackedSize} unpacked`);
    return join(work, info.filename);
  });

  step('plain: ESM and CommonJS, no NestJS', () => {
    const dir = project(
      'plain',
      {},
      {
        'smoke.mjs':
          `import { createRedkit, silentLogger } from 'redkit';\n${smokeBody}\n` +
          `const root = await import('redkit');\nif ('RedisCacheStore' in root) throw new Error('internals on the root export');\n` +
          `const internals = await import('redkit/internals');\nif (typeof internals.RedisCacheStore !== 'function') throw new Error('redkit/internals lacks RedisCacheStore');\nconsole.log('esm ok');\n`,
        'smoke.cjs': `const { createRedkit, silentLogger } = require('redkit');\n(async () => {${smokeBody}\n  console.log('cjs ok');\n})().catch((err) => { console.error(err); process.exit(1); });\n`,
        'nest.mjs': `await import('redkit/nestjs');\n`,
        'nest.cjs': `require('redkit/nestjs');\n`,
      },
    );
    npmInstall(dir, [tarball]);
    run('node', ['smoke.mjs'], dir);
    run('node', ['smoke.cjs'], dir);
    expectFailure('node', ['nest.mjs'], dir, nestMissing, "import('redkit/nestjs') without Nest");
    expectFailure('node', ['nest.cjs'], dir, nestMissing, "require('redkit/nestjs') without Nest");
  });

  step('nest11-ts5: NestJS 11, TypeScript 5 commonjs/node', () => {
    const dir = project(
      'nest11-ts5',
      { type: 'commonjs' },
      {
        'smoke.ts': tsSmoke,
        'tsconfig.json': JSON.stringify({ compilerOptions: { ...tsOptions, module: 'commonjs', moduleResolution: 'node' }, files: ['smoke.ts'] }),
      },
    );
    npmInstall(dir, [
      tarball,
      'typescript@^5',
      '@types/node@^20',
      '@nestjs/common@^11',
      '@nestjs/core@^11',
      '@nestjs/testing@^11',
      '@nestjs/platform-express@^11',
      '@nestjs/terminus@^11',
      '@nestjs/throttler@^6',
      'reflect-metadata@^0.2',
      'rxjs@^7',
    ]);
    const nest = nestMajor(dir);
    if (!nest.startsWith('11.')) throw new Error(`expected @nestjs/common 11, got ${nest}`);
    console.log(`@nestjs/common ${nest}, typescript ${run('npx', ['tsc', '--version'], dir, { capture: true }).trim()}`);
    run('npx', ['tsc', '-p', '.'], dir);
    run('node', ['out/smoke.js'], dir);
    // Control: without typesVersions, TS 5 + moduleResolution node cannot see redkit/nestjs.
    const pkgFile = join(dir, 'node_modules/redkit/package.json');
    const original = readFileSync(pkgFile, 'utf8');
    const { typesVersions, ...withoutTypesVersions } = JSON.parse(original);
    if (!typesVersions) throw new Error('the packed package.json has no typesVersions');
    writeFileSync(pkgFile, JSON.stringify(withoutTypesVersions));
    expectFailure('npx', ['tsc', '-p', '.'], dir, /TS2307[^\n]*redkit\/nestjs/, 'control: TS 5 without typesVersions');
    writeFileSync(pkgFile, original);
    // The repo's compiled module and throttler tests, placed inside the installed package so that
    // their ../../src imports reach the tarball's dist and bare imports reach Nest 11.
    const into = join(dir, 'node_modules/redkit/dist');
    for (const part of ['test/helpers', 'test/nestjs', 'test/ratelimit', 'examples']) {
      cpSync(join(repo, 'dist', part), join(into, part), { recursive: true });
    }
    run(
      'node',
      ['--test', '--test-concurrency=1', '--test-timeout=180000', join(into, 'test/nestjs/module.test.js'), join(into, 'test/ratelimit/nest.test.js')],
      dir,
      { timeout: 600_000 },
    );
  });

  step('nest12-ts7: NestJS 12, TypeScript 7 ESM/nodenext', () => {
    const dir = project(
      'nest12-ts7',
      { type: 'module' },
      {
        'smoke.ts': tsSmoke,
        'tsconfig.json': JSON.stringify({ compilerOptions: { ...tsOptions, module: 'nodenext', moduleResolution: 'nodenext' }, files: ['smoke.ts'] }),
      },
    );
    npmInstall(dir, [tarball, 'typescript@^7', '@types/node@^20', '@nestjs/common@^12', '@nestjs/core@^12', 'reflect-metadata@^0.2', 'rxjs@^7']);
    const nest = nestMajor(dir);
    if (!nest.startsWith('12.')) throw new Error(`expected @nestjs/common 12, got ${nest}`);
    console.log(`@nestjs/common ${nest}, typescript ${run('npx', ['tsc', '--version'], dir, { capture: true }).trim()}`);
    run('npx', ['tsc', '-p', '.'], dir);
    run('node', ['out/smoke.js'], dir);
  });
} finally {
  console.log('\n## timings');
  for (const [name, ms] of timings) console.log(`${(ms / 1000).toFixed(1).padStart(7)} s  ${name}`);
  console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s  total`);
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

// @opentelemetry/api is an optional peer: a child process runs the built redkit from a copy whose
// node_modules has every package but @opentelemetry/*, records metrics and scrapes them.
// The control run uses the same copy with @opentelemetry/api present, so the check can fail.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'redkit-no-otel-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of dist/src with node_modules symlinked entry by entry, @opentelemetry kept or not. */
function copy(name: string, withOtel: boolean): string {
  const target = join(dir, name);
  cpSync(join(root, 'dist/src'), join(target, 'dist/src'), { recursive: true });
  writeFileSync(join(target, 'package.json'), JSON.stringify({ name: 'redkit', type: 'module' }));
  mkdirSync(join(target, 'node_modules'));
  for (const entry of readdirSync(join(root, 'node_modules'))) {
    if (entry === '@opentelemetry' && !withOtel) continue;
    symlinkSync(join(root, 'node_modules', entry), join(target, 'node_modules', entry));
  }
  writeFileSync(
    join(target, 'main.mjs'),
    `
    import { createRedkit, silentLogger } from './dist/src/index.js';
    const kit = await createRedkit({ env: {}, logger: silentLogger });
    kit.metrics.counter({ name: 'redkit_probe_total', help: 'Probe.' }).inc();
    const text = await kit.metrics.prometheus();
    console.log(JSON.stringify({ scraped: text.includes('redkit_probe_total 1'), otel: kit.metrics.useOpenTelemetry() }));
    await kit.close();
  `,
  );
  return target;
}

async function runIn(target: string): Promise<{ scraped: boolean; otel: boolean }> {
  const { stdout } = await run(process.execPath, [join(target, 'main.mjs')], { cwd: target, env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 });
  return JSON.parse(stdout.trim()) as { scraped: boolean; otel: boolean };
}

test('without @opentelemetry/api the toolkit runs and scrapes; the bridge reports it is unavailable', async () => {
  assert.deepEqual(await runIn(copy('without', false)), { scraped: true, otel: false });
});

test('control: the same copy with @opentelemetry/api bridges', async () => {
  assert.deepEqual(await runIn(copy('with', true)), { scraped: true, otel: true });
});

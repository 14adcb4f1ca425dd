// Labelled spans: redkit's `redkit:operation` tracing channel, and ioredis's `ioredis:command`
// contexts naming the script an EVALSHA runs. Subscribes to the real channels; real redis-server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { Command } from 'ioredis';
import {
  labelClientCommands,
  labelCommand,
  operationLabel,
  scriptLabel,
  traced,
  type LabelledCommandContext,
  type OperationContext,
} from '../../src/metrics/index.js';
import { useRedisKit } from '../helpers/kit.js';

const fixture = useRedisKit();

test('script names become capability and operation labels', () => {
  assert.deepEqual(scriptLabel('redkitLockAcquireV1'), {
    name: 'redkit.lock.acquire',
    capability: 'lock',
    operation: 'acquire',
    script: 'redkitLockAcquireV1',
  });
  assert.equal(scriptLabel('redkitJobLockExtendV3').name, 'redkit.job.lockExtend');
  assert.equal(scriptLabel('redkitPresenceJoinV1').name, 'redkit.presence.join');
  // Names given by defineScripts: <namespace>.<name>.
  assert.deepEqual(scriptLabel('lease.release'), { name: 'redkit.lease.release', capability: 'lease', operation: 'release', script: 'lease.release' });
});

test('redkit:operation publishes start and end around an operation, with its label and error', async () => {
  const channel = diagnostics.tracingChannel<OperationContext>('redkit:operation');
  const seen: Array<[string, string, unknown]> = [];
  const handlers = {
    start: (ctx: OperationContext) => seen.push(['start', ctx.name, undefined]),
    end: () => {},
    asyncStart: (ctx: OperationContext) => seen.push(['asyncStart', ctx.name, ctx.result]),
    asyncEnd: () => {},
    error: (ctx: OperationContext) => seen.push(['error', ctx.name, (ctx.error as Error).message]),
  };
  channel.subscribe(handlers);
  try {
    const label = operationLabel('cache', 'load');
    assert.equal(await traced(label, async () => 42), 42);
    await assert.rejects(
      traced(label, async () => {
        throw new Error('loader failed');
      }),
      /loader failed/,
    );
  } finally {
    channel.unsubscribe(handlers);
  }
  assert.deepEqual(seen, [
    ['start', 'redkit.cache.load', undefined],
    ['asyncStart', 'redkit.cache.load', 42],
    ['start', 'redkit.cache.load', undefined],
    ['error', 'redkit.cache.load', 'loader failed'],
    ['asyncStart', 'redkit.cache.load', undefined],
  ]);
});

test('an EVALSHA that redkit labelled carries its script name on ioredis:command', async () => {
  const client = fixture.kit.redis!;
  labelClientCommands(client);
  const sha = (await client.script('LOAD', 'return 1')) as string;
  const channel = diagnostics.tracingChannel<LabelledCommandContext>('ioredis:command');
  const contexts: LabelledCommandContext[] = [];
  const handlers = { start: (ctx: LabelledCommandContext) => contexts.push(ctx), end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
  channel.subscribe(handlers);
  try {
    const labelled = new Command('evalsha', [sha, 0], { replyEncoding: 'utf8' });
    labelCommand(labelled, 'redkitLockAcquireV1', 3);
    assert.equal(await client.sendCommand(labelled), 1);
    assert.equal(await client.evalsha(sha, 0), 1);
  } finally {
    channel.unsubscribe(handlers);
  }
  const evals = contexts.filter((c) => c.command === 'evalsha');
  assert.equal(evals.length, 2);
  assert.deepEqual(evals[0]!.redkit, { name: 'redkit.lock.acquire', capability: 'lock', operation: 'acquire', script: 'redkitLockAcquireV1', calls: 3 });
  assert.equal(evals[1]!.redkit, undefined, 'a command redkit did not label stays as ioredis built it');
});

test('kit.lock.acquire is a redkit.lock.acquire span whose EVALSHA is labelled; a cache load is a span too', async () => {
  const kit = fixture.kit;
  const operations = diagnostics.tracingChannel<OperationContext>('redkit:operation');
  const commands = diagnostics.tracingChannel<LabelledCommandContext>('ioredis:command');
  const started: string[] = [];
  const labelled: string[] = [];
  const opHandlers = { start: (ctx: OperationContext) => started.push(ctx.name), end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
  const cmdHandlers = {
    start: (ctx: LabelledCommandContext) => {
      if (ctx.command === 'evalsha' || ctx.command === 'eval') labelled.push(ctx.redkit?.name ?? `unlabelled ${ctx.command}`);
    },
    end() {},
    asyncStart() {},
    asyncEnd() {},
    error() {},
  };
  operations.subscribe(opHandlers);
  commands.subscribe(cmdHandlers);
  try {
    const lock = await kit.lock.acquire('traced-lock', { ttl: 2000, restartGuard: 0 });
    await lock.release();
    await kit.cache.namespace<number>('traced', { ttl: '1m' }).getOrSet('k', () => 1);
  } finally {
    operations.unsubscribe(opHandlers);
    commands.unsubscribe(cmdHandlers);
  }
  assert.deepEqual(started, ['redkit.lock.acquire', 'redkit.cache.load']);
  assert.ok(labelled.includes('redkit.lock.acquire'), labelled.join(', '));
  assert.ok(labelled.includes('redkit.lock.release'), labelled.join(', '));
  assert.deepEqual(
    labelled.filter((l) => l.startsWith('unlabelled')),
    [],
    'every script call of redkit is labelled',
  );
});

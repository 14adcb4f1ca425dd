// One duration grammar (the ms package's) and one options check for the cache and the rate
// limiter; repeated warnings rate-limited. Standalone: none of this needs Redis.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { standaloneKit } from '../helpers/kit.js';
import { InvalidArgumentError, toMs, type Logger } from '../../src/index.js';
import { assertOptions, rateLimitedLog } from '../../src/internals.js';

const kit = await standaloneKit();
after(() => kit.close());

const named = (argument: string | RegExp) => (err: unknown) =>
  err instanceof InvalidArgumentError && (typeof argument === 'string' ? err.argument === argument : argument.test(err.message));

test('toMs: the ms grammar, numbers stay milliseconds, bad input names the option', () => {
  assert.equal(toMs('24h', 'ttl'), 86_400_000);
  assert.equal(toMs('1 hour', 'ttl'), 3_600_000);
  assert.equal(toMs('1w', 'ttl'), 604_800_000);
  assert.equal(toMs('500ms', 'ttl'), 500);
  assert.equal(toMs('2 days', 'ttl'), 172_800_000);
  assert.equal(toMs(1500.4, 'ttl'), 1500);
  assert.equal(toMs('90', 'ttl'), 90);
  for (const bad of ['soon', '', '1 fortnight', '-1h', -1, Number.NaN, Number.POSITIVE_INFINITY, null, {}, '1'.repeat(120)]) {
    assert.throws(
      () => toMs(bad, 'lock.ttl'),
      (err: unknown) => err instanceof InvalidArgumentError && err.argument === 'lock.ttl' && /lock\.ttl must be/.test(err.message),
      String(bad),
    );
  }
  assert.throws(() => toMs('0ms', 'windowMs', { min: 1 }), /windowMs must be at least 1 ms/);
});

test("namespace('d', { ttll: 5 }) is refused naming the key, with a suggestion; so are nested and per-call options", async () => {
  assert.throws(
    () => kit.cache.namespace('d', { ttll: 5 } as never),
    (err: unknown) =>
      err instanceof InvalidArgumentError &&
      err.argument === 'namespace "d" options.ttll' &&
      /unknown option "ttll" \(did you mean "ttl"\?\)/.test(err.message),
  );
  assert.throws(() => kit.cache.namespace('d', { l1: { maxEntrys: 5 } } as never), named(/unknown option "maxEntrys"/));
  assert.throws(() => kit.cache.namespace('d', { stampedeLock: { wiat: 5 } } as never), named(/unknown option "wiat" \(did you mean "wait"\?\)/));
  assert.throws(() => kit.cache.namespace('d', { maxEntries: 0 }), named('maxEntries'));
  assert.throws(() => kit.cache.namespace('d', { ttl: 'soon' }), named('ttl'));
  const c = kit.cache.namespace<number>('d', { ttl: '1 hour', grace: '1w' });
  await assert.rejects(c.set('k', 1, { tll: 5 } as never), named(/set options: unknown option "tll"/));
  await assert.rejects(
    c.getOrSet('k', () => 1, { stampedLock: true } as never),
    named(/unknown option "stampedLock"/),
  );
  assert.throws(() => c.wrap(async () => 1, { kye: 'x' } as never), named(/unknown option "kye"/));
  await assert.rejects(c.setMany([{ key: 'k', value: 1, tl: 5 } as never]), named(/setMany item: unknown option "tl"/));
  await c.set('k', 1, { ttl: '10 minutes' });
  assert.equal(await c.get('k'), 1);
});

test("rateLimiter: windowMs '1m' and blockMs '30s' work; unknown keys are refused", async () => {
  const limiter = kit.rateLimiter({ limit: 2, windowMs: '1m', blockMs: '30s', name: 'dur' });
  assert.equal(limiter.policy.windowMs, 60_000);
  assert.equal(limiter.policy.blockMs, 30_000);
  assert.equal((await limiter.consume('k')).resetMs, 60_000);
  assert.throws(() => kit.rateLimiter({ limit: 2, windowMs: 'a minute' }), named('rateLimiter.windowMs'));
  assert.throws(() => kit.rateLimiter({ limit: 2, windowMs: '1m', limt: 3 } as never), named(/unknown option "limt" \(did you mean "limit"\?\)/));
  assert.throws(() => kit.rateLimiter({ limit: 2, windowMs: '1m', expectedInstances: 0 }), named('rateLimiter.expectedInstances'));
});

test('assertOptions refuses non-objects and names the accepted keys', () => {
  assert.throws(() => assertOptions([], ['a'], 'thing options'), named(/thing options must be an object \(got an array\)/));
  assert.throws(() => assertOptions({ zzz: 1 }, ['a', 'b'], 'thing options'), named(/known options: a, b/));
  assertOptions(undefined, ['a'], 'thing options');
  assertOptions({ a: 1 }, ['a'], 'thing options');
});

test('rateLimitedLog: 10,000 repeats log one line per window, then one line with the suppressed count', () => {
  const lines: Array<{ obj: Record<string, unknown>; msg: string | undefined }> = [];
  const logger: Logger = {
    debug() {},
    info() {},
    error() {},
    warn(obj, msg) {
      lines.push({ obj: obj as Record<string, unknown>, msg });
    },
  };
  let now = 0;
  const warn = rateLimitedLog(logger, 'warn', { intervalMs: 60_000, now: () => now });
  for (let i = 0; i < 10_000; i++) warn('late-release', { lock: 'x' }, 'lock released after its ttl');
  assert.equal(lines.length, 1);
  assert.match(lines[0]!.msg!, /further repeats suppressed for 60 s/);
  warn('other-topic', {}, 'another warning');
  assert.equal(lines.length, 2);
  now = 60_000;
  warn('late-release', { lock: 'x' }, 'lock released after its ttl');
  assert.equal(lines.length, 3);
  assert.equal(lines[2]!.obj.suppressed, 9_999);
});

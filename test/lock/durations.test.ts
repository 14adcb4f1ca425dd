import { test } from 'node:test';
import assert from 'node:assert/strict';
import { standaloneKit } from '../helpers/kit.js';
import { InvalidArgumentError } from '../../src/index.js';

// Lock durations take the `ms` grammar (a bare number is ms); a bad one names the option.

const cases: Array<{ option: 'ttl' | 'wait' | 'restartGuard' | 'extend' }> = [
  { option: 'ttl' },
  { option: 'wait' },
  { option: 'restartGuard' },
  { option: 'extend' },
];

test('lock durations: "10s" works, "10 parsecs" is an InvalidArgumentError naming the option', async () => {
  const kit = await standaloneKit();
  try {
    for (const { option } of cases) {
      const name = `d-${option}`;
      const before = Date.now();
      const lock = option === 'extend' ? await kit.lock.acquire(name, { ttl: 100 }) : await kit.lock.acquire(name, { [option]: '10s' });
      if (option === 'extend') await lock.extend('10s');
      if (option === 'ttl' || option === 'extend') {
        // 10 s lease minus the drift margin (1 % + 2 ms): far above a 100 ms or default-less reading.
        assert.ok(lock.expiresAt - before > 9_000 && lock.expiresAt - before <= 10_000, `${option}: expiresAt is ${lock.expiresAt - before} ms ahead`);
      }
      await assert.rejects(
        option === 'extend' ? lock.extend('10 parsecs') : kit.lock.acquire(`${name}-bad`, { [option]: '10 parsecs' }),
        (err: unknown) => err instanceof InvalidArgumentError && err.argument === (option === 'extend' ? 'ttl' : option) && err.message.includes('10 parsecs'),
        option,
      );
      await lock.release();
    }
    // Unknown keys are refused by name.
    await assert.rejects(
      kit.lock.acquire('typo', { tll: 1000 } as never),
      (err: unknown) => err instanceof InvalidArgumentError && err.argument === 'lock options.tll' && err.message.includes('did you mean "ttl"'),
    );
  } finally {
    await kit.close();
  }
});

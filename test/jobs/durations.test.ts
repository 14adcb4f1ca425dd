import { test } from 'node:test';
import assert from 'node:assert/strict';
import { standaloneKit } from '../helpers/kit.js';
import { sleep } from '../helpers/util.js';
import { InvalidArgumentError, type ExternalJobAdapter } from '../../src/index.js';

// Runner durations take the `ms` grammar (a bare number is ms); a bad one names the option.

function countingAdapter(): ExternalJobAdapter<unknown> & { polls: number } {
  const adapter = {
    polls: 0,
    async submit() {
      return 'ext-1';
    },
    async status() {
      adapter.polls++;
      return { state: 'running' as const };
    },
    async cancel() {},
  };
  return adapter;
}

test('runner durations: "10s" works, "10 parsecs" is an InvalidArgumentError naming the option', async () => {
  const kit = await standaloneKit();
  try {
    for (const option of ['pollIntervalMs', 'lockTtlMs', 'recoverEveryMs'] as const) {
      const ok = kit.jobs.runner({ kind: `ok-${option}`, adapter: countingAdapter(), [option]: '10s' });
      await ok.close();
      assert.throws(
        () => kit.jobs.runner({ kind: `bad-${option}`, adapter: countingAdapter(), [option]: '10 parsecs' }),
        (err: unknown) => err instanceof InvalidArgumentError && err.argument === `runner options.${option}` && err.message.includes('10 parsecs'),
        option,
      );
    }
    // The job store's ttl (ttlSec, in seconds, stays as a deprecated alias).
    assert.equal(kit.jobs.createStore({ ttl: '10s' }).ttlSec, 10);
    assert.equal(kit.jobs.createStore({ ttl: '90m' }).ttlSec, 5400);
    assert.equal(kit.jobs.createStore({ ttlSec: 30 }).ttlSec, 30);
    assert.throws(
      () => kit.jobs.createStore({ ttl: '10 parsecs' }),
      (err: unknown) => err instanceof InvalidArgumentError && err.argument === 'job store options.ttl' && err.message.includes('10 parsecs'),
    );
    // The parsed value is the one in use: a '50ms' poll asks the adapter several times in 600 ms.
    const adapter = countingAdapter();
    const runner = kit.jobs.runner({ kind: 'poll', adapter, pollIntervalMs: '50ms', lockTtlMs: '5s' });
    await runner.start({});
    await sleep(600);
    await runner.close();
    assert.ok(adapter.polls >= 3, `${adapter.polls} polls in 600 ms`);
  } finally {
    await kit.close();
  }
});

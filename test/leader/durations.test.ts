import { test } from 'node:test';
import assert from 'node:assert/strict';
import { standaloneKit } from '../helpers/kit.js';
import { InvalidArgumentError } from '../../src/index.js';

// The campaign ttl takes the `ms` grammar (a bare number is ms); a bad one names the option.

test('campaign ttl: "10s" works, "10 parsecs" is an InvalidArgumentError naming the option', async () => {
  const kit = await standaloneKit();
  try {
    const table: Array<{ ttl: number | string; ms?: number }> = [
      { ttl: '10s', ms: 10_000 },
      { ttl: '1.5s', ms: 1_500 },
      { ttl: 2500, ms: 2_500 },
      { ttl: '10 parsecs' },
    ];
    for (const [i, row] of table.entries()) {
      if (row.ms === undefined) {
        assert.throws(
          () => kit.leader.campaign(`r${i}`, { ttl: row.ttl }),
          (err: unknown) => err instanceof InvalidArgumentError && err.argument === 'ttl' && err.message.includes('10 parsecs'),
        );
        continue;
      }
      const election = kit.leader.campaign(`r${i}`, { ttl: row.ttl });
      assert.equal(election.ttlMs, row.ms, String(row.ttl));
      await election.resign();
    }
    assert.throws(
      () => kit.leader.campaign('typo', { tll: '10s' } as never),
      (err: unknown) => err instanceof InvalidArgumentError && err.argument === 'campaign options.tll',
    );
  } finally {
    await kit.close();
  }
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redkit } from '../../src/index.js';
import { useRedisKit } from '../helpers/kit.js';

/** How many socket reads Redis made while `body` ran (INFO stats; the INFO calls add their own). */
async function readsDuring(kit: Redkit, body: () => Promise<unknown>): Promise<number> {
  const reads = async () => Number(/total_reads_processed:(\d+)/.exec(await kit.redis!.info('stats'))?.[1]);
  const before = await reads();
  await body();
  return (await reads()) - before;
}

describe('connection: commands of one tick leave in one write', () => {
  const fixture = useRedisKit();

  test('200 commands issued in one tick reach Redis in a handful of reads, in order, each with its reply', async () => {
    const { kit } = fixture;
    const key = kit.keys.key('wb', 'counter');
    let replies: unknown[] = [];
    const reads = await readsDuring(kit, async () => {
      replies = await Promise.all(Array.from({ length: 200 }, () => kit.redis!.incr(key)));
    });
    assert.deepEqual(
      replies,
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    // One write of 200 commands may be read in a few chunks; 200 separate writes would be ~200 reads.
    assert.ok(reads <= 10, `Redis made ${reads} reads`);
  });

  test('commands awaited one after another still go out at once (nothing waits for a later tick)', async () => {
    const { kit } = fixture;
    const key = kit.keys.key('wb', 'sequential');
    const started = Date.now();
    for (let i = 0; i < 200; i++) await kit.redis!.incr(key);
    assert.equal(await kit.redis!.get(key), '200');
    assert.ok(Date.now() - started < 2000, `200 sequential round trips took ${Date.now() - started} ms`);
  });
});

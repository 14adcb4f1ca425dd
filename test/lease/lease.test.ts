import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireLease, extendLease, releaseLease } from '../../src/lease/lease.js';
import { useRedisKit } from '../helpers/kit.js';

describe('lease: the stampede lock and job locks share it', () => {
  const fixture = useRedisKit();

  test('only the holding token extends or releases; another token never frees it', async () => {
    const client = fixture.kit.redis!;
    const key = fixture.kit.keys.key('lease', 'a');
    assert.equal(await acquireLease(client, key, 'one', 5000), true);
    assert.equal(await acquireLease(client, key, 'two', 5000), false);
    assert.equal(await extendLease(client, key, 'two', 60_000), false);
    assert.equal(await releaseLease(client, key, 'two'), false);
    assert.equal(await client.get(key), 'one');
    assert.ok((await client.pttl(key)) <= 5000);
    assert.equal(await extendLease(client, key, 'one', 60_000), true);
    assert.ok((await client.pttl(key)) > 5000);
    assert.equal(await releaseLease(client, key, 'one'), true);
    assert.equal(await client.exists(key), 0);
    assert.equal(await acquireLease(client, key, 'two', 5000), true);
  });

  test('a lease that ran out is taken by another token, and the old holder cannot release it', async () => {
    const client = fixture.kit.redis!;
    const key = fixture.kit.keys.key('lease', 'b');
    assert.equal(await acquireLease(client, key, 'old', 50), true);
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(await acquireLease(client, key, 'new', 5000), true);
    assert.equal(await releaseLease(client, key, 'old'), false);
    assert.equal(await client.get(key), 'new');
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { sleep, waitFor } from '../helpers/util.js';

test('messages reach every handler of a channel; a throwing handler does not starve the others', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  try {
    const sub = kit.connection.subscriber();
    const got: string[] = [];
    const offA = await sub.subscribe('ch', () => {
      throw new Error('handler bug');
    });
    const offB = await sub.subscribe('ch', (m) => got.push(m));
    await kit.redis!.publish('ch', 'one');
    await waitFor(() => got.length === 1, 2000, 'delivery');
    await offA();
    await offB();
    await kit.redis!.publish('ch', 'two');
    await sleep(100);
    assert.deepEqual(got, ['one'], 'no delivery after the last handler is removed');
  } finally {
    await kit.close();
    await stopRedis(server);
  }
});

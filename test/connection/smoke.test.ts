import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';

test('smoke', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  assert.equal(kit.mode, 'redis');
  const h = await kit.health();
  console.log(h);
  await kit.close();
  await stopRedis(server);
});

test('shared subscriber delivers and survives a restart', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  const got: string[] = [];
  let resynced = 0;
  const sub = kit.connection.subscriber();
  sub.onResync(() => { resynced++; });
  await sub.subscribe('ch', (m) => got.push(m));
  await kit.redis!.publish('ch', 'a');
  const { waitFor } = await import('../helpers/util.js');
  await waitFor(() => got.length === 1, 2000, 'first message');
  await server.restart();
  await waitFor(() => resynced === 1 && kit.mode === 'redis', 5000, 'resync');
  await kit.redis!.publish('ch', 'b');
  await waitFor(() => got.length === 2, 2000, 'second message');
  assert.deepEqual(got, ['a', 'b']);
  await kit.close();
  await stopRedis(server);
});

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

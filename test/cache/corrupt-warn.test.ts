// A value in Redis that cannot be decoded is a miss on every read until it is overwritten: the
// warning about it is logged once per namespace and minute, not once per read.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { randomPrefix } from '../helpers/util.js';
import type { Logger, Redkit } from '../../src/index.js';
import { keysEverywhere } from '../helpers/keys.js';

let server: RedisServer;
let kit: Redkit;
const warns: string[] = [];
const keyPrefix = randomPrefix();
before(async () => {
  server = await startRedis();
  const logger: Logger = {
    debug() {},
    info() {},
    error() {},
    warn(_obj, msg) {
      warns.push(String(msg));
    },
  };
  kit = await kitFor(server, { keyPrefix, logger });
});
after(async () => {
  await kit?.close();
  await stopRedis(server);
});

test('1,000 reads of a corrupt value: misses, one warning', async () => {
  const c = kit.cache.namespace<number>('corrupt');
  await c.set('k', 1);
  // The kit's own client: on a cluster it routes the key to its master (a plain client to one node would get MOVED).
  const admin = kit.redis!;
  const [key] = await keysEverywhere(admin, `${keyPrefix}:cache:corrupt:*`);
  assert.ok(key, 'the value was stored');
  // Overwrite only the payload: the stored form is a hash or a string depending on the layout.
  if ((await admin.type(key)) === 'hash') {
    const fields = await admin.hgetall(key);
    const field = Object.keys(fields).find((f) => fields[f]!.includes('1')) ?? Object.keys(fields)[0]!;
    await admin.hset(key, field, '{not json');
  } else {
    await admin.set(key, '{not json', 'KEEPTTL');
  }
  for (let i = 0; i < 1000; i++) assert.equal(await c.get('k'), undefined);
  assert.equal(warns.filter((w) => w.includes('could not be decoded')).length, 1, warns.slice(0, 3).join('\n'));
});

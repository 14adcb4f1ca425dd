// The reference server's moderation cache: POST /api/moderate and GET /api/cache/stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildServer } from '../../app/server.js';
import { readSettings } from '../../app/settings.js';
import type { Redkit } from '../../src/index.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { keysEverywhere } from '../helpers/keys.js';

async function exercise(kit: Redkit): Promise<void> {
  const app = await buildServer(kit, readSettings({ MODERATION_DELAY_MS: '150', RATE_LIMIT_MODERATE: '1000/60s' }), false as never);
  try {
    const post = (payload: unknown, contentType = 'application/json') =>
      app.inject({
        method: 'POST',
        url: '/api/moderate',
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
        headers: { 'content-type': contentType },
      });
    const first = await post({ text: 'You are an idiot, click here for free money' });
    assert.equal(first.statusCode, 200);
    assert.deepEqual(first.json(), { result: { flagged: true, categories: ['harassment', 'spam'], score: 1 }, cached: false });
    const started = performance.now();
    const second = await post({ text: 'You are an idiot, click here for free money' });
    assert.ok(performance.now() - started < 150, 'answered from the cache, without the slow moderation');
    assert.equal(second.json().cached, true);
    assert.equal((await post({ text: 'hello friend' })).json().result.flagged, false);

    // Concurrent identical requests run the slow moderation once.
    const burst = await Promise.all(Array.from({ length: 20 }, () => post({ text: 'a brand new text' })));
    assert.equal(burst.filter((r) => r.json().cached === false).length, 1);

    for (const [payload, status] of [
      [{}, 400],
      [{ text: 42 }, 400],
      [{ text: ['a'] }, 400],
      [{ text: '   ' }, 400],
      [[1, 2], 400],
      ['null', 400],
      [{ text: 'x'.repeat(10_001) }, 413],
    ] as Array<[unknown, number]>) {
      const res = await post(payload);
      assert.equal(res.statusCode, status, JSON.stringify(payload).slice(0, 40));
      assert.match(res.json().message, /text|JSON object/);
    }
    assert.equal((await post('text=hi', 'application/x-www-form-urlencoded')).statusCode, 415);

    const stats = await app.inject({ method: 'GET', url: '/api/cache/stats' });
    assert.equal(stats.statusCode, 200);
    const m = stats.json().namespaces.moderation;
    assert.equal(m.loads, 3);
    assert.equal(m.hits, 1);
    assert.equal(m.misses, 3);
    assert.equal(m.coalesced, 19);
    assert.equal(m.hitRate, 0.25);
  } finally {
    await app.close();
  }
}

test('moderation route, standalone', async () => {
  const kit = await standaloneKit();
  try {
    await exercise(kit);
  } finally {
    await kit.close();
  }
});

test('moderation route, Redis', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  try {
    await exercise(kit);
    const keys = await keysEverywhere(kit.redis!, `${kit.config.prefix}:cache:moderation:*`);
    assert.equal(keys.length, 3);
    const ttl = await kit.redis!.pttl(keys[0]!);
    // 24 h (+ up to 10 % jitter) + 1 h grace.
    assert.ok(ttl > 24 * 3600_000 && ttl <= (24 * 1.1 + 1) * 3600_000, `pttl=${ttl}`);
  } finally {
    await kit.close();
    await stopRedis(server);
  }
});

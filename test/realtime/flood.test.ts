import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createGateway, type Redkit, type RealtimeGateway } from '../../src/index.js';
import { kitFor } from '../helpers/kit.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { sleep } from '../helpers/util.js';
import { TestClient } from './helpers.js';

// The flood rule with the default limits (20 msgs/s, burst 40), real ws clients pacing real frames.
let redis: RedisServer;
let kit: Redkit;
let http: Server;
let gateway: RealtimeGateway;
let url: string;

before(async () => {
  redis = await startRedis();
  kit = await kitFor(redis);
  gateway = createGateway(kit);
  http = createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  gateway.attach(http);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  url = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/ws`;
});

after(async () => {
  await gateway.close();
  await new Promise<void>((resolve) => http.close(() => resolve()));
  await kit.close();
  await stopRedis(redis);
});

/**
 * Sends pings evenly at `perSecond`: one at a time, never two in one turn, and a send that
 * comes late is not made up with a burst (the spacing stays at least 1000 / perSecond ms).
 * Stops when the connection closes or `maxMs` passes; resolves with the close and when it came.
 */
async function pace(client: TestClient, perSecond: number, maxMs: number): Promise<{ code: number | null; afterMs: number; sent: number }> {
  const start = performance.now();
  const gapMs = 1000 / perSecond;
  let next = start;
  let sent = 0;
  while (client.closed === null && performance.now() - start < maxMs) {
    const now = performance.now();
    if (now >= next && client.ws.readyState === client.ws.OPEN) {
      client.send({ type: 'ping' });
      sent++;
      next = Math.max(next + gapMs, now);
    }
    if (gapMs >= 5) await sleep(Math.max(1, next - performance.now() - 1));
    else await new Promise((resolve) => setImmediate(resolve));
  }
  if (client.closed === null) await sleep(200);
  return { code: client.closed?.code ?? null, afterMs: performance.now() - start, sent };
}

test('an evenly paced 1,000 msgs/s client is closed with 1008 within ~2 s, though every 50th message is accepted', async () => {
  const c = await TestClient.open(url);
  const { code, afterMs, sent } = await pace(c, 1000, 6000);
  console.log(`# 1000/s: closed with ${code} after ${Math.round(afterMs)} ms (${sent} sent)`);
  assert.equal(code, 1008);
  assert.ok(afterMs < 4000, `closed after ${Math.round(afterMs)} ms (target ~2 s; bound 4 s for a loaded machine)`);
});

test('a client at 3x the limit (60 msgs/s) is closed with 1008 once its burst is spent and it stays over', async () => {
  const c = await TestClient.open(url);
  const { code, afterMs } = await pace(c, 60, 8000);
  console.log(`# 60/s: closed with ${code} after ${Math.round(afterMs)} ms (burst spent after ~1 s, grace 1 s)`);
  assert.equal(code, 1008);
  assert.ok(afterMs < 5000, `closed after ${Math.round(afterMs)} ms`);
});

test('a client under the limit, and one that bursts once then slows down, stay connected', async () => {
  const steady = await TestClient.open(url);
  const bursty = await TestClient.open(url);
  for (let i = 0; i < 60; i++) bursty.send({ type: 'ping' });
  const [a, b] = await Promise.all([
    pace(steady, 15, 3000),
    (async () => {
      await sleep(2500);
      return pace(bursty, 10, 2000);
    })(),
  ]);
  assert.equal(a.code, null, 'the steady client is still connected');
  assert.equal(b.code, null, 'the bursty client is still connected');
  assert.ok(
    bursty.frames.some((f) => f.type === 'error' && f.code === 'E_RATE_LIMITED'),
    'its burst beyond 40 was refused',
  );
  const pongs = steady.frames.filter((f) => f.type === 'pong').length;
  assert.ok(pongs >= a.sent - 1, `every steady ping answered (${pongs}/${a.sent})`);
  steady.close();
  bursty.close();
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createGateway, type Redkit, type RealtimeGateway } from '../../src/index.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { sleep, waitFor } from '../helpers/util.js';
import { TestClient } from './helpers.js';

// The gateway in this process on a real HTTP server, against bad input of every kind.
let redis: RedisServer;
let kit: Redkit;
let http: Server;
let gateway: RealtimeGateway;
let url: string;

before(async () => {
  redis = await startRedis();
  kit = await kitFor(redis);
  gateway = createGateway(kit, { ratePerSecond: 10, rateBurst: 10, floodCloseAfter: 30, allowedOrigins: null, pingIntervalMs: 200 });
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

test('hello, join, snapshot, diffs, react, leave, ping', async () => {
  const a = await TestClient.open(url);
  const b = await TestClient.open(url);
  assert.equal(a.hello!.instanceId, kit.instanceId);
  assert.equal(a.hello!.limits.maxPayloadBytes, 4096);
  await a.join('g1', 'ada', 'Ada');
  await b.join('g1', 'bob');
  await waitFor(() => a.list('g1').join() === 'ada,bob' && b.list('g1').join() === 'ada,bob', 2000, 'both see both');
  const snap = b.frames.find((f) => f.type === 'snapshot')!;
  assert.deepEqual(snap.members, [
    { id: 'ada', meta: { name: 'Ada' } },
    { id: 'bob', meta: { name: 'bob' } },
  ]);
  a.send({ type: 'react', room: 'g1', reaction: '🎉', ref: 'r1' });
  await waitFor(() => b.counts.get('g1')?.['🎉'] === 1, 2000, 'reaction at b');
  assert.equal(b.frames.find((f) => f.type === 'reaction')!.by, 'ada');
  const n = a.frames.length;
  a.send({ type: 'ping', ref: 'p' });
  assert.equal((await a.next('pong', n)).ref, 'p');
  a.send({ type: 'leave', room: 'g1', ref: 'l' });
  assert.equal((await a.next('ack', n)).of, 'leave');
  await waitFor(() => b.list('g1').join() === 'bob', 2000, 'ada left');
  a.close();
  b.close();
});

test('malformed JSON, unknown types, schema violations and misuse get an error frame; the connection stays usable', async () => {
  const c = await TestClient.open(url);
  const cases: Array<[unknown, string]> = [
    ['{"type":', 'E_BAD_JSON'],
    ['[1,2]', 'E_BAD_MESSAGE'],
    ['"hi"', 'E_BAD_MESSAGE'],
    [{ type: 'shout', room: 'x' }, 'E_UNKNOWN_TYPE'],
    [{ type: 'join', room: 'x' }, 'E_BAD_MESSAGE'],
    [{ type: 'join', room: 'x', id: 'a', admin: true }, 'E_BAD_MESSAGE'],
    [{ type: 'join', room: 'a{b}', id: 'a' }, 'E_BAD_MESSAGE'],
    [{ type: 'join', room: 'x', id: 'a\u0000' }, 'E_BAD_MESSAGE'],
    [{ type: 'react', room: 'nowhere', reaction: '👍' }, 'E_NOT_JOINED'],
    [{ type: 'leave', room: 'nowhere' }, 'E_NOT_JOINED'],
  ];
  for (const [frame, code] of cases) {
    const n = c.frames.length;
    c.send(frame);
    const error = await c.next('error', n);
    assert.equal(error.code, code, `${JSON.stringify(frame)} → ${error.code}: ${error.message}`);
  }
  await sleep(1100); // refill the 10-message burst this test just spent
  await c.join('g2', 'cy');
  let n = c.frames.length;
  c.send({ type: 'react', room: 'g2', reaction: '💩', ref: 'bad' });
  const notAllowed = await c.next('error', n);
  assert.equal(notAllowed.code, 'E_REACTION_NOT_ALLOWED');
  assert.equal(notAllowed.ref, 'bad');
  n = c.frames.length;
  c.send({ type: 'join', room: 'g3', id: 'someone-else' });
  assert.equal((await c.next('error', n)).code, 'E_IDENTITY');
  n = c.frames.length;
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal((await c.next('error', n)).code, 'E_BAD_MESSAGE');
  assert.equal(c.closed, null, 'still open after every bad message');
  c.send({ type: 'react', room: 'g2', reaction: '👍' });
  await waitFor(() => c.counts.get('g2')?.['👍'] === 1, 2000, 'a good message still works');
  c.close();
});

test('a frame over 4 KB closes with 1009; a flood gets E_RATE_LIMITED then 1008; others are unaffected', async () => {
  const bystander = await TestClient.open(url);
  await bystander.join('g4', 'calm');
  const big = await TestClient.open(url);
  await big.join('g4', 'big');
  await waitFor(() => bystander.list('g4').join() === 'big,calm', 2000, 'bystander sees big');
  big.send(JSON.stringify({ type: 'ping', ref: 'x'.repeat(5000) }));
  assert.equal((await big.waitClosed()).code, 1009);
  await waitFor(() => bystander.list('g4').join() === 'calm', 2000, 'big left when closed');

  const flood = await TestClient.open(url);
  await flood.join('g4', 'flood');
  for (let i = 0; i < 200; i++) flood.send({ type: 'ping' });
  const limited = await flood.next('error');
  assert.equal(limited.code, 'E_RATE_LIMITED');
  const closed = await flood.waitClosed();
  assert.equal(closed.code, 1008);
  assert.match(closed.reason, /rate limit/);
  const errors = flood.frames.filter((f) => f.type === 'error').length;
  assert.ok(errors <= 2, `error frames are throttled, not one per flooded frame (${errors})`);

  await waitFor(() => bystander.list('g4').join() === 'calm', 2000, 'flood left when closed');
  const n = bystander.frames.length;
  bystander.send({ type: 'ping', ref: 'still-here' });
  assert.equal((await bystander.next('pong', n)).ref, 'still-here');
  assert.equal(bystander.closed, null);
  assert.ok(gateway.stats().closedForAbuse >= 2);
  bystander.close();
});

test('origin allow-list closes other origins with 1008; a client that stops answering pings is terminated', async () => {
  const strict = createGateway(kit, { path: '/strict', allowedOrigins: ['https://good.example'], pingIntervalMs: 100 });
  const server = createServer();
  strict.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const bad = new TestClient(`ws://127.0.0.1:${port}/strict`, { origin: 'https://evil.example' });
  assert.equal((await bad.waitClosed()).code, 1008);
  assert.equal(bad.closed!.reason, 'origin not allowed');
  const good = await TestClient.open(`ws://127.0.0.1:${port}/strict`, { origin: 'https://good.example' });
  assert.ok(good.hello);
  const mute = await TestClient.open(`ws://127.0.0.1:${port}/strict`, { origin: 'https://good.example', autoPong: false });
  await mute.join('quiet', 'mute');
  const closed = await mute.waitClosed(3000);
  assert.equal(closed.code, 1006, 'terminated without a close frame');
  await sleep(250);
  assert.equal(good.closed, null, 'a client that answers pings stays');
  good.close();
  await strict.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('standalone: the same protocol works in memory', async () => {
  const mem = await standaloneKit();
  const gw = createGateway(mem);
  const server = createServer();
  gw.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const a = await TestClient.open(`ws://127.0.0.1:${port}/ws`);
  const b = await TestClient.open(`ws://127.0.0.1:${port}/ws`);
  assert.equal(a.hello!.mode, 'standalone');
  await a.join('s', 'a');
  await b.join('s', 'b');
  a.send({ type: 'react', room: 's', reaction: '❤️' });
  await waitFor(() => a.list('s').join() === 'a,b' && b.counts.get('s')?.['❤️'] === 1, 2000, 'standalone fan-out');
  a.close();
  await waitFor(() => b.list('s').join() === 'b', 2000, 'a left');
  b.close();
  await gw.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await mem.close();
});

test('DEBUG_PRESENCE logging: connections, joins and leaves are logged with the instance id', async () => {
  const lines: Array<Record<string, unknown> & { msg?: string }> = [];
  const capture = (obj: object, msg?: string) => {
    lines.push({ ...obj, msg });
  };
  const mem = await standaloneKit({ logger: { debug: capture, info: capture, warn: capture, error: capture } });
  const gw = createGateway(mem, { debug: true });
  const server = createServer();
  gw.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const a = await TestClient.open(`ws://127.0.0.1:${port}/ws`);
  await a.join('dbg', 'ada');
  a.close();
  await waitFor(() => lines.some((l) => l.msg === '[gateway] leave'), 2000, 'the leave logged');
  for (const msg of ['[gateway] connection opened', '[gateway] join', '[gateway] connection closed', '[gateway] leave']) {
    const line = lines.find((l) => l.msg === msg);
    assert.ok(line, `logged "${msg}"`);
    assert.equal(line.instanceId, mem.instanceId);
  }
  await gw.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await mem.close();
});

test('identify(): unidentified upgrades are closed with 1008; identified ones may only join as themselves', async () => {
  const gw = createGateway(kit, {
    path: '/auth',
    identify: (req) => {
      const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
      return token === 'ada-secret' ? { id: 'ada', name: 'Ada Lovelace' } : null;
    },
  });
  const server = createServer();
  gw.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const anonymous = new TestClient(`ws://127.0.0.1:${port}/auth?token=wrong`);
  const closed = await anonymous.waitClosed();
  assert.equal(closed.code, 1008);
  assert.equal(closed.reason, 'unauthorized');
  const ada = await TestClient.open(`ws://127.0.0.1:${port}/auth?token=ada-secret`);
  assert.equal(ada.hello!.memberId, 'ada');
  const n = ada.frames.length;
  ada.send({ type: 'join', room: 'auth', id: 'mallory' });
  assert.equal((await ada.next('error', n)).code, 'E_IDENTITY');
  await ada.join('auth', 'ada', 'Not Ada');
  const snapshot = ada.frames.find((f) => f.type === 'snapshot')!;
  assert.deepEqual(snapshot.members, [{ id: 'ada', meta: { name: 'Ada Lovelace' } }], 'the name comes from identify()');
  ada.close();
  await gw.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test("reactionLimiter: a member's reactions are limited across connections by the shared limiter", async () => {
  const limiter = kit.rateLimiter({ algorithm: 'fixed-window', limit: 3, windowMs: 60_000, name: 'gw-reactions' });
  const limited = createGateway(kit, { path: '/limited', reactionLimiter: limiter });
  const server = createServer();
  limited.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    // One member on two connections: the limit is per member, not per connection.
    const a = await TestClient.open(`ws://127.0.0.1:${port}/limited`);
    const b = await TestClient.open(`ws://127.0.0.1:${port}/limited`);
    await a.join('lim', 'zed');
    await b.join('lim', 'zed');
    for (let i = 0; i < 2; i++) a.send({ type: 'react', room: 'lim', reaction: '👍', ref: `a${i}` });
    for (let i = 0; i < 2; i++) b.send({ type: 'react', room: 'lim', reaction: '👍', ref: `b${i}` });
    await waitFor(() => [...a.frames, ...b.frames].some((f) => f.type === 'error' && f.code === 'E_RATE_LIMITED'), 3000, 'a refusal');
    await waitFor(() => a.counts.get('lim')?.['👍'] === 3, 3000, 'exactly three reactions counted');
    await sleep(100);
    assert.equal(a.counts.get('lim')?.['👍'], 3);
    assert.equal([...a.frames, ...b.frames].filter((f) => f.type === 'error' && f.code === 'E_RATE_LIMITED').length, 1);
    a.close();
    b.close();
  } finally {
    await limited.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

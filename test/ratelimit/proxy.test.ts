// Behind a proxy (Fly, Railway), per-IP limits must key by the client the trusted proxy names in
// X-Forwarded-For, and only when the proxy is trusted: a client cannot pick its own bucket.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { buildServer } from '../../app/server.js';
import { readSettings } from '../../app/settings.js';
import { standaloneKit } from '../helpers/kit.js';
import { clientAddress, compileTrustProxy, expressRateLimit, fastifyRateLimit, InvalidArgumentError, parseTrustProxy } from '../../src/index.js';

const kit = await standaloneKit();
after(() => kit.close());

test('clientAddress walks X-Forwarded-For only through trusted hops', () => {
  const xff = '203.0.113.9, 198.51.100.7, 10.0.0.2';
  const at = (trust: Parameters<typeof compileTrustProxy>[0]) => clientAddress('10.0.0.1', xff, compileTrustProxy(trust));
  assert.equal(at(false), '10.0.0.1');
  assert.equal(at(0), '10.0.0.1');
  assert.equal(at(1), '10.0.0.2');
  assert.equal(at(2), '198.51.100.7');
  assert.equal(at(true), '203.0.113.9');
  assert.equal(at(99), '203.0.113.9');
  // Addresses: the private hops are proxies, the first public one is the client.
  assert.equal(at('10.0.0.0/8'), '198.51.100.7');
  assert.equal(at(['uniquelocal']), '198.51.100.7');
  assert.equal(at('loopback'), '10.0.0.1', 'the peer is not a trusted proxy: the header is ignored');
  assert.equal(
    at((address) => address.startsWith('10.')),
    '198.51.100.7',
  );
  // An IPv4 peer on a dual-stack socket, a header list, a garbled hop.
  assert.equal(clientAddress('::ffff:127.0.0.1', ['1.2.3.4', '5.6.7.8'], compileTrustProxy('loopback')), '5.6.7.8');
  assert.equal(clientAddress('127.0.0.1', 'nonsense, 5.6.7.8', compileTrustProxy(true)), '5.6.7.8');
  assert.equal(clientAddress('127.0.0.1', undefined, compileTrustProxy(true)), '127.0.0.1');
});

test('bad trustProxy values are refused naming the setting; TRUST_PROXY parses like Express', () => {
  for (const bad of [-1, 1.5, '10.0.0.0/33', 'not-an-ip', ['127.0.0.1', 'nope']] as const) {
    assert.throws(
      () => compileTrustProxy(bad as never),
      (err: unknown) => err instanceof InvalidArgumentError && err.argument === 'trustProxy',
      String(bad),
    );
  }
  assert.equal(parseTrustProxy(undefined), false);
  assert.equal(parseTrustProxy('false'), false);
  assert.equal(parseTrustProxy('true'), true);
  assert.equal(parseTrustProxy('1'), 1);
  assert.equal(parseTrustProxy('loopback, 10.0.0.0/8'), 'loopback, 10.0.0.0/8');
  assert.throws(() => parseTrustProxy('10.0.0.0/99'), /TRUST_PROXY/);
  assert.throws(() => readSettings({ TRUST_PROXY: 'everyone' }), /TRUST_PROXY/);
});

/** Five clients behind one proxy on 127.0.0.1, two requests each, limit 2 per key. */
async function fiveClients(send: (forwardedFor: string) => Promise<number>): Promise<number[]> {
  const codes = [];
  for (let round = 0; round < 2; round++) for (let c = 1; c <= 5; c++) codes.push(await send(`198.51.100.${c}`));
  return codes;
}

for (const trustProxy of [undefined, 1] as const) {
  test(`fastify and express, trustProxy ${String(trustProxy)}: ${trustProxy ? 'one bucket per forwarded client' : 'X-Forwarded-For ignored, one bucket'}`, async () => {
    const expected = trustProxy ? Array(10).fill(200) : [200, 200, ...Array(8).fill(429)];
    const fastify = Fastify();
    const guard = fastifyRateLimit(kit.rateLimiter({ limit: 2, windowMs: 60_000, name: `f-${trustProxy}` }), trustProxy ? { trustProxy } : {});
    fastify.get('/x', { preHandler: guard }, async () => ({ ok: true }));
    const fromFastify = await fiveClients(async (xff) => (await fastify.inject({ method: 'GET', url: '/x', headers: { 'x-forwarded-for': xff } })).statusCode);
    await fastify.close();
    assert.deepEqual(fromFastify, expected);

    const app = express();
    app.use(expressRateLimit(kit.rateLimiter({ limit: 2, windowMs: 60_000, name: `e-${trustProxy}` }), trustProxy ? { trustProxy } : {}));
    app.get('/x', (_req, res) => {
      res.json({ ok: true });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      assert.deepEqual(await fiveClients(async (xff) => (await fetch(`${base}/x`, { headers: { 'x-forwarded-for': xff } })).status), expected);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
}

test('trustProxy 1: a client cannot pick its bucket by prepending addresses of its own', async () => {
  const fastify = Fastify();
  const guard = fastifyRateLimit(kit.rateLimiter({ limit: 2, windowMs: 60_000, name: 'spoof' }), { trustProxy: 1 });
  fastify.get('/x', { preHandler: guard }, async () => ({ ok: true }));
  const codes = [];
  // The proxy appends the real client (203.0.113.5) after whatever the client sent.
  for (let i = 0; i < 4; i++)
    codes.push((await fastify.inject({ method: 'GET', url: '/x', headers: { 'x-forwarded-for': `10.9.9.${i}, 203.0.113.5` } })).statusCode);
  await fastify.close();
  assert.deepEqual(codes, [200, 200, 429, 429]);
});

for (const trust of ['', '1'] as const) {
  test(`reference server, TRUST_PROXY=${JSON.stringify(trust)}: POST /api/moderate ${trust ? 'limits each forwarded client' : 'ignores X-Forwarded-For'}`, async () => {
    const local = await standaloneKit();
    const app = await buildServer(
      local,
      readSettings({ PORT: '0', MODERATION_DELAY_MS: '1', RATE_LIMIT_MODERATE: '2/60s', TRUST_PROXY: trust }),
      pino({ level: 'silent' }),
    );
    try {
      const codes = await fiveClients(
        async (xff) => (await app.inject({ method: 'POST', url: '/api/moderate', payload: { text: 'hi' }, headers: { 'x-forwarded-for': xff } })).statusCode,
      );
      assert.deepEqual(codes, trust ? Array(10).fill(200) : [200, 200, ...Array(8).fill(429)]);
    } finally {
      await app.close();
      await local.close();
    }
  });
}

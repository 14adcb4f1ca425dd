// The HTTP helpers on real Fastify and Express servers: key by IP / user / route, 429 with a
// JSON body and RateLimit-* / Retry-After headers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { standaloneKit } from '../helpers/kit.js';
import { expressRateLimit, fastifyRateLimit, InvalidArgumentError } from '../../src/index.js';

const kit = await standaloneKit();
after(() => kit.close());

test('fastify: headers on every answer, 429 with a JSON body and Retry-After, keyed by ip + route', async () => {
  const limiter = kit.rateLimiter({ algorithm: 'fixed-window', limit: 2, windowMs: 30_000, name: 'fastify' });
  const app = Fastify();
  const limit = fastifyRateLimit(limiter, { keyBy: ['ip', 'route'] });
  app.get('/a/:id', { preHandler: limit }, async () => ({ ok: 'a' }));
  app.get('/b', { preHandler: limit }, async () => ({ ok: 'b' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    // /a/1 and /a/2 are one route pattern: one counter.
    const r1 = await fetch(`${base}/a/1`);
    const r2 = await fetch(`${base}/a/2`);
    const r3 = await fetch(`${base}/a/3`);
    assert.deepEqual([r1.status, r2.status, r3.status], [200, 200, 429]);
    assert.equal(r1.headers.get('ratelimit-limit'), '2');
    assert.equal(r1.headers.get('ratelimit-remaining'), '1');
    assert.equal(r1.headers.get('ratelimit-reset'), '30');
    assert.equal(r1.headers.get('retry-after'), null);
    assert.equal(r3.headers.get('ratelimit-remaining'), '0');
    assert.ok(Number(r3.headers.get('retry-after')) >= 29);
    const body = (await r3.json()) as Record<string, unknown>;
    assert.equal(body.statusCode, 429);
    assert.equal(body.error, 'Too Many Requests');
    assert.match(String(body.message), /retry in \d+ s/);
    assert.equal(typeof body.retryAfterMs, 'number');
    // Another route has its own counter.
    assert.equal((await fetch(`${base}/b`)).status, 200);
  } finally {
    await app.close();
  }
});

test('express: keyed by user (anonymous falls back to the IP), cost per request, errors go to next()', async () => {
  const limiter = kit.rateLimiter({ algorithm: 'token-bucket', limit: 3, windowMs: 60_000, name: 'express' });
  const app = express();
  app.use(
    expressRateLimit(limiter, {
      keyBy: ['user'],
      user: (req) => req.header('x-user') || undefined,
      cost: (req) => (req.path === '/expensive' ? 3 : 1),
    }),
  );
  app.get('/cheap', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/expensive', (_req, res) => {
    res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = (path: string, user?: string) => fetch(`${base}${path}`, { headers: user ? { 'x-user': user } : {} });
    assert.equal((await get('/expensive', 'alice')).status, 200);
    const refused = await get('/cheap', 'alice');
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('ratelimit-limit'), '3');
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter > 15 && retryAfter <= 20, String(retryAfter)); // one token per 20 s
    assert.equal(((await refused.json()) as { statusCode: number }).statusCode, 429);
    // Bob and anonymous callers have their own buckets.
    assert.equal((await get('/expensive', 'bob')).status, 200);
    assert.equal((await get('/cheap')).status, 200);
    assert.equal((await get('/cheap')).headers.get('ratelimit-remaining'), '1');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  // A bad key is a typed error handed to Express's error handling, not a crash.
  const broken = expressRateLimit(limiter, { key: () => '' });
  const err = await new Promise((resolve) =>
    broken(
      { method: 'GET', path: '/' },
      {
        setHeader() {},
        status() {
          return this;
        },
        json() {},
      } as never,
      resolve,
    ),
  );
  assert.ok(err instanceof InvalidArgumentError);
});

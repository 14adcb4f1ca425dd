import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix } from '../helpers/util.js';
import { startServer, type ServerProcess } from './helpers.js';

// The page functions below run in the browser; this is the little of the DOM they use.
declare const document: { querySelectorAll(selector: string): { length: number }; querySelector(selector: string): { textContent: string | null } | null };

// Headless Chromium (Debian's package) on the live page of two server processes.
let redis: RedisServer;
let s1: ServerProcess;
let s2: ServerProcess;
let browser: Browser;

before(async () => {
  redis = await startRedis();
  const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: randomPrefix(), PRESENCE_HEARTBEAT_TTL_MS: '3000', ADMIN_TOKEN: 'test-admin-token' };
  [s1, s2] = await Promise.all([startServer(env), startServer(env)]);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  await Promise.all([s1?.stop(), s2?.stop()]);
  await stopRedis(redis);
});

test("two pages on two instances show each other's users and reactions", async () => {
  const ada = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  const bob = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  await ada.goto(`${s1.url}/?room=demo&name=Ada&id=ada`);
  await bob.goto(`${s2.url}/?room=demo&name=Bob&id=bob&debug=1`);

  const members = (page: typeof ada) => page.locator('#members li').allTextContents();
  await ada.waitForFunction(() => document.querySelectorAll('#members li').length === 2, undefined, { timeout: 10_000 });
  await bob.waitForFunction(() => document.querySelectorAll('#members li').length === 2, undefined, { timeout: 10_000 });
  assert.deepEqual(await members(ada), ['Ada (you)', 'Bob']);
  assert.deepEqual(await members(bob), ['Ada', 'Bob (you)']);

  const adaInstance = await ada.locator('#instance').textContent();
  const bobInstance = await bob.locator('#instance').textContent();
  assert.ok(adaInstance && bobInstance && adaInstance !== bobInstance, `different instances: ${adaInstance} / ${bobInstance}`);
  await bob.waitForFunction(() => /healthy/.test(document.querySelector('#health')?.textContent ?? ''));

  await ada.getByRole('button', { name: /🎉/ }).click();
  await ada.getByRole('button', { name: /🎉/ }).click();
  await bob.getByRole('button', { name: /❤️/ }).click();
  await bob.waitForFunction(() => document.querySelector('[data-reaction="🎉"] .n')?.textContent === '2', undefined, { timeout: 5000 });
  await ada.waitForFunction(() => document.querySelector('[data-reaction="❤️"] .n')?.textContent === '1', undefined, { timeout: 5000 });
  assert.match((await bob.locator('#last-reaction').textContent()) ?? '', /reacted/);

  // ?debug=1 shows this instance's connections.
  await bob.waitForFunction(() => document.querySelectorAll('#debug-connections tr').length >= 1, undefined, { timeout: 5000 });
  assert.equal(await bob.locator('#debug').isVisible(), true);
  assert.equal(await ada.locator('#debug').isVisible(), false);

  // Operations: the cache hit rate comes from /api/cache/stats; queue counts need the admin token.
  await bob.waitForFunction(() => /admin token required/.test(document.querySelector('#queues')?.textContent ?? ''), undefined, { timeout: 5000 });
  await bob.getByLabel('Admin token').fill('test-admin-token');
  await bob.getByRole('button', { name: 'Use' }).click();
  await bob.waitForFunction(() => /waiting \d+/.test(document.querySelector('#queues')?.textContent ?? ''), undefined, { timeout: 5000 });
  assert.match((await bob.locator('#cache').textContent()) ?? '', /no reads yet|%/);

  mkdirSync('test-artifacts', { recursive: true });
  await bob.screenshot({ path: 'test-artifacts/realtime-live-page.png', fullPage: true });
  await ada.screenshot({ path: 'test-artifacts/realtime-live-page-ada.png', fullPage: true });

  // Ada closes her tab: Bob sees her leave.
  await ada.close();
  await bob.waitForFunction(() => document.querySelectorAll('#members li').length === 1, undefined, { timeout: 5000 });
  assert.deepEqual(await members(bob), ['Bob (you)']);
  await bob.close();
});

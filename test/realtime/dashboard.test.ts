import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix } from '../helpers/util.js';
import { startServer, type ServerProcess } from './helpers.js';

// The page functions below run in the browser; this is the little of the DOM they use.
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
}
declare const document: {
  getElementById(id: string): Canvas | null;
  querySelector(selector: string): { textContent: string | null } | null;
  documentElement: { scrollWidth: number; clientWidth: number };
  body: { innerText: string };
};

// Issue 16: the live page's dashboard, in headless Chromium (Debian's package) at a phone's
// viewport, with a real Redis that the test kills.
let redis: RedisServer;
let server: ServerProcess;
let browser: Browser;

before(async () => {
  redis = await startRedis();
  server = await startServer({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: randomPrefix(), RATE_LIMIT_MODERATE: '3/60s', MODERATION_DELAY_MS: '0' });
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
  await server?.stop();
  await stopRedis(redis);
});

/** Pixels of a plot canvas: how many are drawn at all, and how many are the outage red. */
function pixels(id: string): { drawn: number; red: number; total: number } {
  const canvas = document.getElementById(id)!;
  const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let drawn = 0;
  let red = 0;
  // The frame is the outer pixel ring: count the inside only, where the series is drawn.
  for (let y = 2; y < canvas.height - 2; y++) {
    for (let x = 2; x < canvas.width - 2; x++) {
      const i = (y * canvas.width + x) * 4;
      if (data[i + 3]! === 0) continue;
      drawn++;
      if (data[i]! > 180 && data[i + 1]! < 90 && data[i + 2]! < 90) red++;
    }
  }
  return { drawn, red, total: canvas.width * canvas.height };
}

test('the dashboard plots hit rate, refusals and clients on a phone, then says "unavailable" when Redis is killed', async () => {
  mkdirSync('test-artifacts', { recursive: true });
  const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await page.goto(`${server.url}/?room=dash&name=Ann&id=ann`);
  await page.waitForFunction(() => /healthy/.test(document.querySelector('#health')?.textContent ?? ''), undefined, { timeout: 10_000 });

  // Traffic: one miss then hits on the moderation cache, and refusals past the 3/60s limit.
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await fetch(`${server.url}/api/moderate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hello dashboard' }),
    });
    statuses.push(res.status);
  }
  assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);

  await page.waitForFunction(() => /%/.test(document.querySelector('figure:has(#plot-hit-rate) .value')?.textContent ?? ''), undefined, { timeout: 10_000 });
  await page.waitForFunction(() => document.querySelector('figure:has(#plot-clients) .value')?.textContent === '1', undefined, { timeout: 10_000 });
  assert.equal(await page.locator('figure:has(#plot-queue) .value').textContent(), '0 jobs');
  // The hit rate is the deployment's (summed in Redis across instances), and the page says so.
  assert.match((await page.locator('figure:has(#plot-hit-rate) figcaption').textContent()) ?? '', /all instances/);
  // Two more samples so that every series has a line, not a dot.
  await page.waitForTimeout(4500);
  await page.screenshot({ path: 'test-artifacts/dashboard-phone.png', fullPage: true });
  for (const id of ['plot-hit-rate', 'plot-refused', 'plot-queue', 'plot-clients', 'plot-mode']) {
    const p = await page.evaluate(pixels, id);
    assert.ok(p.drawn > 20, `${id}: the plot is drawn (${p.drawn} of ${p.total} pixels)`);
    assert.equal(p.red, 0, `${id}: no outage marks while Redis is up`);
  }
  // A phone's width: nothing scrolls sideways.
  const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  assert.ok(widths.scroll <= widths.client, `page is ${widths.scroll} px wide in a ${widths.client} px viewport`);
  // Reactions keep a word beside the emoji for devices without an emoji font.
  assert.equal(await page.locator('[data-reaction="🎉"] .label').textContent(), 'party');

  await redis.kill();
  await page.waitForFunction(() => document.querySelector('figure:has(#plot-hit-rate) .value')?.textContent === 'unavailable', undefined, { timeout: 10_000 });
  await page.waitForFunction(() => /degraded/.test(document.querySelector('figure:has(#plot-mode) .value')?.textContent ?? ''), undefined, { timeout: 10_000 });
  assert.equal(await page.locator('figure:has(#plot-queue) .value').textContent(), 'unavailable');
  await page.waitForTimeout(2500);
  await page.screenshot({ path: 'test-artifacts/dashboard-phone-outage.png', fullPage: true });
  const outage = await page.evaluate(pixels, 'plot-hit-rate');
  assert.ok(outage.red > 0, 'the hit-rate plot marks the outage in red');
  // Never the Redis address or a fix hint for visitors.
  const text = await page.evaluate(() => document.body.innerText);
  assert.ok(!text.includes(String(redis.port)) && !/127\.0\.0\.1|REDIS_/.test(text), `the page shows no Redis address or hint:\n${text}`);

  await redis.start();
  await page.waitForFunction(() => /redis/.test(document.querySelector('figure:has(#plot-mode) .value')?.textContent ?? ''), undefined, { timeout: 15_000 });
  await page.close();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { sleep } from '../helpers/util.js';
import type { Logger, Redkit } from '../../src/index.js';

// A loop whose critical section always outlives its ttl releases late every time: the warning
// is rate-limited (one topic for all locks), so 10,000 late releases log a handful of lines.
// restartGuard 0: the test's Redis has just started, and the guard would refuse the grants.

function recordingLogger(): { logger: Logger; warns: string[] } {
  const warns: string[] = [];
  const none = () => {};
  return {
    warns,
    logger: {
      debug: none,
      info: none,
      error: none,
      warn: (_obj: unknown, msg?: string) => {
        warns.push(String(msg));
      },
    } as Logger,
  };
}

async function lateReleases(kit: Redkit, count: number): Promise<number> {
  const locks = await Promise.all(Array.from({ length: count }, (_, i) => kit.lock.acquire(`late-${i}`, { ttl: 1, restartGuard: 0 })));
  await sleep(20);
  const results = await Promise.all(locks.map((lock) => lock.release()));
  return results.filter((released) => !released).length;
}

test('standalone: 10,000 late releases log a handful of lines', async () => {
  const { logger, warns } = recordingLogger();
  const kit = await standaloneKit({ logger });
  try {
    assert.equal(await lateReleases(kit, 10_000), 10_000, 'every release is late');
    const late = warns.filter((w) => w.includes('released after its lease ran out'));
    assert.ok(late.length >= 1 && late.length <= 5, `${late.length} lines`);
  } finally {
    await kit.close();
  }
});

test('Redis: 10,000 late releases log a handful of lines', async () => {
  const server = await startRedis();
  const { logger, warns } = recordingLogger();
  const kit = await kitFor(server, { logger, commandTimeoutMs: 5000 });
  try {
    assert.equal(await lateReleases(kit, 10_000), 10_000, 'every release is late');
    const late = warns.filter((w) => w.includes('released after its lease ran out'));
    assert.ok(late.length >= 1 && late.length <= 5, `${late.length} lines`);
  } finally {
    await kit.close();
    await stopRedis(server);
  }
});

// RedkitThrottlerStorage against @nestjs/throttler's own in-memory storage as the oracle: the
// same hits at the same moments must get the same verdicts, on a real Redis and standalone.
import { test, before, after, mock } from 'node:test';
import assert from 'node:assert/strict';
import { ThrottlerStorageService } from '@nestjs/throttler';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { sleep } from '../helpers/util.js';
import { RedkitThrottlerStorage, type Redkit } from '../../src/index.js';

const LIMIT = 3;
const TTL = 1000;
/** The edge sequence of issue 14: hits at 0, 700, 750 fill the window; 1050 is allowed (0 left); 1100 and 1150 are over. */
const AT = [0, 700, 750, 1050, 1100, 1150];

interface Verdict {
  isBlocked: boolean;
  totalHits: number;
}

/** The oracle's verdicts for hits at exactly `offsets` ms, with its clock mocked. */
async function oracle(offsets: number[], blockDuration: number): Promise<Verdict[]> {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const storage = new ThrottlerStorageService();
  try {
    const out: Verdict[] = [];
    for (const at of offsets) {
      mock.timers.setTime(1_000_000 + at);
      const r = await storage.increment('client', TTL, LIMIT, blockDuration, 'default');
      out.push({ isBlocked: r.isBlocked, totalHits: r.totalHits });
    }
    return out;
  } finally {
    storage.onApplicationShutdown();
    mock.timers.reset();
  }
}

/**
 * Plays the sequence on redkit's storage in real time. Offsets count from the moment the first
 * hit's answer came back, so every later hit is at least its offset after the first one was
 * counted (Redis's clock never sees a gap shorter than planned); returns the real offsets too.
 */
async function played(storage: RedkitThrottlerStorage, blockDuration: number, key: string): Promise<{ verdicts: Verdict[]; offsets: number[] }> {
  const verdicts: Verdict[] = [];
  const offsets: number[] = [0];
  const first = await storage.increment(key, TTL, LIMIT, blockDuration, 'default');
  verdicts.push({ isBlocked: first.isBlocked, totalHits: first.totalHits });
  const t0 = performance.now();
  for (const at of AT.slice(1)) {
    const wait = at - (performance.now() - t0);
    if (wait > 0) await sleep(wait);
    offsets.push(Math.round(performance.now() - t0));
    const r = await storage.increment(key, TTL, LIMIT, blockDuration, 'default');
    verdicts.push({ isBlocked: r.isBlocked, totalHits: r.totalHits });
  }
  return { verdicts, offsets };
}

let server: RedisServer;
let redisKit: Redkit;
let memoryKit: Redkit;
before(async () => {
  server = await startRedis();
  redisKit = await kitFor(server);
  memoryKit = await standaloneKit();
});
after(async () => {
  await redisKit?.close();
  await memoryKit?.close();
  await stopRedis(server);
});

test('the oracle itself blocks the last two hits of the edge sequence', async () => {
  for (const blockDuration of [0, TTL]) {
    const verdicts = await oracle(AT, blockDuration);
    assert.deepEqual(
      verdicts.map((v) => v.isBlocked),
      [false, false, false, false, true, true],
      `blockDuration ${blockDuration}`,
    );
  }
});

for (const where of ['redis', 'standalone'] as const) {
  for (const blockDuration of [TTL, 0]) {
    test(`${where}, blockDuration ${blockDuration}: default storage gives the throttler's verdicts on the edge sequence`, async () => {
      const kit = where === 'redis' ? redisKit : memoryKit;
      const storage = new RedkitThrottlerStorage(kit);
      const { verdicts, offsets } = await played(storage, blockDuration, `edge-${blockDuration}`);
      // The oracle replays the offsets the hits really had (a loaded machine may run late).
      assert.deepEqual(verdicts, await oracle(offsets, blockDuration), `offsets ${offsets.join(', ')}`);
      // Late hits only widen the 0 → 1050 gap, and the 1100/1150 hits stay within a window of
      // 700 unless the machine stalls for 600 ms: the last two are blocked.
      assert.deepEqual(
        verdicts.map((v) => v.isBlocked),
        [false, false, false, false, true, true],
        `offsets ${offsets.join(', ')}`,
      );
    });
  }
}

test("algorithm 'fixed-window' is still available and admits the burst at the window edge (documented)", async () => {
  const storage = new RedkitThrottlerStorage(memoryKit, { algorithm: 'fixed-window' });
  const { verdicts, offsets } = await played(storage, 0, 'fixed');
  // A fixed window opened at 0 resets at 1000: 1050, 1100 and 1150 start a new one.
  assert.deepEqual(
    verdicts.map((v) => v.isBlocked),
    [false, false, false, false, false, false],
    `offsets ${offsets.join(', ')}`,
  );
});

test('unknown or bad storage options are refused with the option named', () => {
  assert.throws(() => new RedkitThrottlerStorage(memoryKit, { algoritm: 'fixed-window' } as never), /unknown option "algoritm" \(did you mean "algorithm"\?\)/);
  assert.throws(() => new RedkitThrottlerStorage(memoryKit, { algorithm: 'leaky' } as never), /RedkitThrottlerStorage\.algorithm must be one of/);
  assert.throws(() => new RedkitThrottlerStorage(memoryKit, { expectedInstances: 0 }), /expectedInstances/);
});

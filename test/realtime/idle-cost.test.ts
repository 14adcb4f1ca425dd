import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { Redkit } from '../../src/index.js';
import { kitFor } from '../helpers/kit.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';

// Issue 16: an idle kit (presence and a rate limiter used, then nobody connected) must be
// near-silent on a pay-per-command Redis, and still notice a killed or stalled Redis fast.
// Default health interval: kitFor's test value (200 ms) is what this file must not use.
const WINDOW_MS = 20_000;

let server: RedisServer;
let observer: Redis;
before(async () => {
  server = await startRedis();
  observer = new Redis(server.url);
});
after(async () => {
  observer.disconnect();
  await stopRedis(server);
});

/** Calls per command in `INFO commandstats` (commands run inside scripts included). */
async function commandStats(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await observer.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

async function idleKits(): Promise<[Redkit, Redkit]> {
  const keyPrefix = randomPrefix();
  const options = { keyPrefix, healthIntervalMs: undefined, commandTimeoutMs: 1000 };
  const a = await kitFor(server, { ...options, instanceId: `a-${keyPrefix}` });
  const b = await kitFor(server, { ...options, instanceId: `b-${keyPrefix}` });
  return [a, b];
}

test(`idle for ${WINDOW_MS / 1000} s after presence and a rate limiter were used: a few commands, not hundreds`, async () => {
  const [a, b] = await idleKits();
  try {
    // Work first: a member joins and leaves while the other instance watches; limits are asked.
    const unwatch = await b.presence.watch('lobby');
    await a.presence.join('lobby', 'ann');
    await waitFor(() => b.presence.view('lobby').length === 1, 2000, 'b sees ann');
    await a.presence.leave('lobby', 'ann');
    await waitFor(() => b.presence.view('lobby').length === 0, 2000, 'b sees ann leave');
    unwatch();
    const limiter = a.rateLimiter({ limit: 10, windowMs: 1000 });
    assert.equal((await limiter.consume('ip:1')).allowed, true);
    await sleep(1000);

    const before = await commandStats();
    await sleep(WINDOW_MS);
    const after = await commandStats();
    const delta: Record<string, number> = {};
    let total = 0;
    for (const [name, calls] of after) {
      // The observer's own INFO is the one call of the window that is not the kits'.
      const n = calls - (before.get(name) ?? 0) - (name === 'info' ? 1 : 0);
      if (n > 0) {
        delta[name] = n;
        total += n;
      }
    }
    const perMinute = (total * 60_000) / WINDOW_MS;
    console.log(`# two idle kits: ${total} calls in ${WINDOW_MS / 1000} s (${perMinute}/min, incl. inside scripts): ${JSON.stringify(delta)}`);
    // Before issue 16 this was ~600 calls (presence reaper every 500 ms, PING every second, each kit).
    // Now: the rate-limit heartbeat (20 s) and one PING per 10 s of silence per kit, plus slack.
    assert.ok(total <= 40, `two idle kits made ${total} calls in ${WINDOW_MS / 1000} s: ${JSON.stringify(delta)}`);

    // Presence still works after idling: the first join renews the heartbeat, the watcher sees it.
    const unwatchAgain = await b.presence.watch('lobby');
    await a.presence.join('lobby', 'bob');
    await waitFor(() => b.presence.view('lobby').some((m) => m.id === 'bob'), 2000, 'b sees bob after the idle window');
    unwatchAgain();
  } finally {
    await a.close();
    await b.close();
  }
});

test('an idle kit still notices a stall within the stall bound when a command waits, and a killed Redis at once', async () => {
  const [a, b] = await idleKits();
  try {
    await sleep(1500);
    // Stall: the first command that waits on the paused Redis reveals it (watchdog, 750 ms).
    server.pause();
    try {
      const started = performance.now();
      const failed = await a.connection.run((c) => c.get('x')).catch((e: unknown) => e);
      const took = performance.now() - started;
      assert.ok(failed instanceof Error && (failed as { code?: string }).code === 'E_REDIS_UNAVAILABLE', `typed error, got ${String(failed)}`);
      assert.ok(took < 1800, `the command failed after ${Math.round(took)} ms`);
      assert.equal((await a.health()).status, 'disconnected');
    } finally {
      server.resume();
    }
    await waitFor(() => a.mode === 'redis' && b.mode === 'redis', 5000, 'connected after SIGCONT');
    // Killed: the socket closes, so health flips with no command and no PING at all.
    await server.kill();
    const down = await waitFor(async () => (await b.health()).status === 'disconnected', 1000, 'disconnected within 1 s of kill -9');
    console.log(`# idle kit saw kill -9 after ${Math.round(down.elapsedMs)} ms`);
    await server.start();
    await waitFor(() => b.mode === 'redis', 5000, 'reconnected');
  } finally {
    await a.close();
    await b.close();
  }
});

test('traffic costs no health PING; an idle stall is still seen by the probe within 1.25 intervals + the stall bound', async () => {
  const kit = await kitFor(server, { healthIntervalMs: 1000, commandTimeoutMs: 1000 });
  try {
    await sleep(1200);
    const before = (await commandStats()).get('ping') ?? 0;
    const until = performance.now() + 5000;
    while (performance.now() < until) {
      await kit.connection.run((c) => c.get('traffic'));
      await sleep(200);
    }
    const pings = ((await commandStats()).get('ping') ?? 0) - before;
    assert.equal(pings, 0, `${pings} PINGs in 5 s of traffic`);

    // Nothing waits on Redis now: only the probe can notice the pause.
    await sleep(1500);
    server.pause();
    try {
      const seen = await waitFor(async () => (await kit.health()).status === 'disconnected', 1250 + 750 + 1500, 'the probe sees the idle stall');
      console.log(`# idle stall seen by the probe after ${Math.round(seen.elapsedMs)} ms (healthIntervalMs 1000)`);
    } finally {
      server.resume();
    }
    await waitFor(() => kit.mode === 'redis', 5000, 'connected after SIGCONT');
  } finally {
    await kit.close();
  }
});

test('health asked of an idle kit is truthful within ~1 s: one shared PING, and a frozen Redis shows at once', async () => {
  // Default health interval (10 s): the background probe alone would see the freeze after ~13 s.
  const kit = await kitFor(server, { healthIntervalMs: undefined, commandTimeoutMs: 1000 });
  try {
    await kit.connection.run((c) => c.get('warm'));
    await sleep(1300);
    const before = (await commandStats()).get('ping') ?? 0;
    const answers = await Promise.all(Array.from({ length: 5 }, () => kit.health()));
    assert.ok(answers.every((h) => h.status === 'connected'));
    const pings = ((await commandStats()).get('ping') ?? 0) - before;
    assert.equal(pings, 1, `${pings} PINGs for 5 concurrent health requests after a silence`);
    const again = (await commandStats()).get('ping') ?? 0;
    await kit.health();
    assert.equal(((await commandStats()).get('ping') ?? 0) - again, 0, 'no PING when Redis was just heard');

    await sleep(1300);
    server.pause();
    try {
      const t0 = performance.now();
      const health = await kit.health();
      const askedMs = Math.round(performance.now() - t0);
      console.log(`# frozen Redis reported ${askedMs} ms after health was asked (stallMs ${kit.connection.stallMs})`);
      assert.equal(health.status, 'disconnected', `health said ${health.status} ${askedMs} ms after asking`);
      assert.ok(askedMs < 1500, `answered after ${askedMs} ms`);
      const report = await kit.healthReport();
      assert.equal(report.status, 'degraded');
    } finally {
      server.resume();
    }
    await waitFor(async () => (await kit.health()).status === 'connected', 5000, 'connected after SIGCONT');
  } finally {
    await kit.close();
  }
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopRedis, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';
import { driftMarginMs } from '../../src/internals.js';

interface Event {
  who: string;
  ev: string;
  t: number;
  epoch?: number;
  validUntil?: number;
  reason?: string;
}

const TTL = 1000;
let server: RedisServer;
const children = new Map<string, ChildProcess>();
const log: Event[] = [];
before(async () => {
  server = await startRedis();
  await sleep(2100); // surely ≥ the TTL old (uptime has 1 s resolution), else the restart guard holds the first grant back
});
after(async () => {
  for (const child of children.values()) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  await stopRedis(server);
});

const prefix = randomPrefix('p');
function candidate(who: string): Promise<void> {
  const child = fork(fileURLToPath(new URL('./fixtures/candidate.js', import.meta.url)), [], {
    env: { ...process.env, FIXTURE_REDIS_URL: server.url, FIXTURE_PREFIX: prefix, FIXTURE_ID: who, ROLE: 'scheduler', TTL: String(TTL) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.set(who, child);
  child.once('exit', () => children.delete(who));
  return new Promise((resolve, reject) => {
    child.on('message', (m: Omit<Event, 'who'>) => {
      log.push({ who, ...m });
      if (m.ev === 'ready') resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`candidate ${who} exited (${code ?? signal}) before it was ready`)));
  });
}

/** Who leads now, by the event log: the last `elected` not followed by that process's `revoked`. */
function leaderAfter(since: number, except?: string): Event | undefined {
  return log.find((e) => e.ev === 'elected' && e.t >= since && e.who !== except);
}

test('3 processes: kill -9, SIGSTOP and graceful stop of the leader; never two leaders at once', async () => {
  await Promise.all(['a', 'b', 'c'].map(candidate));
  const first = (await waitFor(() => leaderAfter(0), 5000, 'a first leader')).value!;
  assert.equal(log.filter((e) => e.ev === 'elected').length, 1, 'exactly one leader');

  // kill -9 the leader → a new leader within ttl + 1 s.
  await sleep(500);
  children.get(first.who)!.kill('SIGKILL');
  const killedAt = Date.now();
  const second = (await waitFor(() => leaderAfter(killedAt, first.who), TTL + 3000, 'a leader after kill -9')).value!;
  assert.ok(second.t - killedAt <= TTL + 1000, `new leader ${second.t - killedAt} ms after kill -9`);
  assert.ok(second.epoch! > first.epoch!);
  await candidate('d'); // back to three candidates

  // SIGSTOP the leader past its TTL → another is elected; resumed, the old one says revoked before any work.
  await sleep(500);
  const paused = children.get(second.who)!;
  paused.kill('SIGSTOP');
  const stoppedAt = Date.now();
  const third = (await waitFor(() => leaderAfter(stoppedAt, second.who), TTL + 3000, 'a leader after SIGSTOP')).value!;
  assert.ok(third.epoch! > second.epoch!);
  await sleep(300);
  const resumedAt = Date.now();
  paused.kill('SIGCONT');
  await waitFor(() => log.some((e) => e.who === second.who && e.t >= resumedAt), 3000, 'the resumed leader to speak');
  await sleep(200);
  const afterResume = log.filter((e) => e.who === second.who && e.t >= resumedAt);
  assert.equal(afterResume[0]!.ev, 'revoked', `first event after resume: ${JSON.stringify(afterResume[0])}`);
  assert.equal(afterResume.filter((e) => e.ev === 'work' && e.epoch === second.epoch).length, 0, 'no leader work with the old epoch after resume');

  // Graceful stop → handover within 1 s.
  await sleep(300);
  const stopSent = Date.now();
  children.get(third.who)!.send({ cmd: 'stop' });
  const fourth = (await waitFor(() => leaderAfter(stopSent, third.who), 3000, 'a leader after graceful stop')).value!;
  assert.ok(fourth.t - stopSent <= 1000, `handover ${fourth.t - stopSent} ms after the stop`);
  await sleep(300);

  // The log: leadership intervals [elected, end] where end is the earliest of revoked, death, and
  // the last validUntil the process knew (it never claims to lead after it) — never overlapping
  // beyond the drift margin.
  const deaths = new Map<string, number>([[first.who, killedAt]]);
  const intervals = log
    .filter((e) => e.ev === 'elected')
    .map((start) => {
      const later = log.filter((e) => e.who === start.who && e.t >= start.t && e.epoch === start.epoch && e.validUntil);
      const validUntil = Math.max(...later.map((e) => e.validUntil!));
      const revoked = log.find((e) => e.who === start.who && e.t >= start.t && e.ev === 'revoked')?.t ?? Infinity;
      return { who: start.who, epoch: start.epoch!, from: start.t, to: Math.min(validUntil, revoked, deaths.get(start.who) ?? Infinity) };
    })
    .sort((x, y) => x.from - y.from);
  assert.ok(intervals.length >= 4);
  for (let i = 1; i < intervals.length; i++) {
    const prev = intervals[i - 1]!;
    const next = intervals[i]!;
    assert.ok(next.epoch > prev.epoch, 'epochs increase with every new leadership');
    assert.ok(
      prev.to <= next.from + driftMarginMs(TTL),
      `leaders ${prev.who}#${prev.epoch} (to ${prev.to}) and ${next.who}#${next.epoch} (from ${next.from}) overlapped by ${prev.to - next.from} ms`,
    );
  }
  // Every candidate shuts down gracefully (close() resigns and leaves nothing running).
  const stuck: string[] = [];
  await Promise.all(
    [...children]
      .filter(([, c]) => c.connected)
      .map(
        ([who, c]) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              stuck.push(who);
              c.kill('SIGKILL');
            }, 5000);
            c.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            c.send({ cmd: 'stop' });
          }),
      ),
  );
  assert.deepEqual(stuck, [], 'candidates that did not exit within 5 s of close()');
});

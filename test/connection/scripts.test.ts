import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defineScripts } from '../../src/connection/index.js';
import { RedisUnavailableError, type Redkit } from '../../src/index.js';
import { useRedisKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/util.js';

// lua/incr-1.lua, and the same with named parameters (lua/named-incr-1.lua).
const scripts = defineScripts(import.meta.url, 'test', {
  incr: { file: 'incr-1.lua', keys: ['key'], batch: true },
  namedIncr: { file: 'named-incr-1.lua', keys: ['key'], parameters: ['by', 'tag'], batch: true },
});

/** Counts the EVAL/EVALSHA commands Redis receives that touch `marker` keys (MONITOR sees every command). */
async function countScriptCalls(kit: Redkit, marker: string, body: () => Promise<unknown>): Promise<number> {
  const monitor = await (kit.connection.dedicatedClient({ purpose: 'test-monitor' }) as import('ioredis').Redis).monitor();
  let calls = 0;
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (/^eval/i.test(args[0] ?? '') && args.some((a) => a.includes(marker))) calls++;
  });
  try {
    await body();
    await new Promise((r) => setTimeout(r, 50)); // MONITOR lines trail the replies
    return calls;
  } finally {
    monitor.disconnect();
  }
}

describe('connection: defineScripts', () => {
  test('a file whose name gives another number of keys than declared is refused when defined', () => {
    assert.throws(
      () => defineScripts(import.meta.url, 'test-misnamed', { incr: { file: 'incr-1.lua', keys: ['key', 'other'] } }),
      /must be named <name>-2\.lua/,
    );
  });
});

describe('connection: batched scripts', () => {
  const fixture = useRedisKit();

  const call = (key: string, by: string) => {
    const { kit } = fixture;
    return kit.connection.run((client) => scripts.incr<[number, string, string] | null>(client, [kit.keys.key('t', key), by]));
  };

  test('calls made in one tick go out as one EVALSHA, each answered with its own reply in call order', async () => {
    await Promise.all([call('warm', '1'), call('warm', '1')]); // loads the batch script (NOSCRIPT → EVAL)
    let replies: Array<[number, string, string] | null> = [];
    const calls = await countScriptCalls(fixture.kit, ':t:k', async () => {
      replies = await Promise.all(Array.from({ length: 10 }, (_, i) => call(`k${i % 3}`, String(i + 1))));
    });
    assert.equal(calls, 1);
    // k0 gets +1, +4, +7, +10 in that order: running totals prove the order was kept.
    assert.deepEqual(
      replies.map((r) => r![0]),
      [1, 2, 3, 5, 7, 9, 12, 15, 18, 22],
    );
    // One batch, one instant: every call saw the same server time.
    assert.equal(new Set(replies.map((r) => `${r![1]}.${r![2]}`)).size, 1);
  });

  test('more calls than one batch holds are split, none lost', async () => {
    let replies: Array<[number, string, string] | null> = [];
    const calls = await countScriptCalls(fixture.kit, ':t:many', async () => {
      replies = await Promise.all(Array.from({ length: 300 }, () => call('many', '1')));
    });
    assert.deepEqual(
      replies.map((r) => r![0]),
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
    assert.ok(calls > 1 && calls < 300, `300 calls went out in ${calls} script calls`);
  });

  test('a failing call rejects only its own promise; a nil reply is null', async () => {
    await fixture.kit.redis!.set(fixture.kit.keys.key('t', 'text'), 'not a number');
    const [ok, failed, nil, after] = await Promise.allSettled([call('fine', '2'), call('text', '1'), call('fine', 'nil'), call('fine', '3')]);
    assert.equal(ok.status === 'fulfilled' && ok.value![0], 2);
    assert.equal(failed.status, 'rejected');
    assert.match(String((failed as PromiseRejectedResult).reason.message), /not an integer/);
    assert.deepEqual(nil, { status: 'fulfilled', value: null });
    assert.equal(after.status === 'fulfilled' && after.value![0], 5);
  });

  test('after SCRIPT FLUSH (as after a restart) a batch falls back to EVAL and succeeds', async () => {
    await fixture.kit.redis!.script('FLUSH');
    const replies = await Promise.all([call('flushed', '1'), call('flushed', '1')]);
    assert.deepEqual(
      replies.map((r) => r![0]),
      [1, 2],
    );
  });

  test('named parameters: one EVALSHA per batch, each call sees its own values; a wrong count is refused', async () => {
    const { kit } = fixture;
    const named = (key: string, by: string, tag: string) =>
      kit.connection.run((client) => scripts.namedIncr<[number, string]>(client, [kit.keys.key('t', key), by, tag]));
    await Promise.all([named('nwarm', '1', 'a'), named('nwarm', '1', 'b')]);
    let replies: Array<PromiseSettledResult<[number, string]>> = [];
    const calls = await countScriptCalls(kit, ':t:n', async () => {
      replies = await Promise.allSettled([named('n1', '1', 'x'), named('n1', '2', 'y'), named('n2', 'fail', 'z'), named('n1', '3', 'w')]);
    });
    assert.equal(calls, 1);
    assert.deepEqual(
      replies.map((r) => (r.status === 'fulfilled' ? r.value : String(r.reason.message))),
      [[1, 'x'], [3, 'y'], 'ERR asked to fail', [6, 'w']],
    );
    await assert.rejects(
      kit.connection.run((client) => scripts.namedIncr(client, [kit.keys.key('t', 'n1'), '1'] as unknown as [string, string, string])),
      /takes 3 keys and arguments \(got 2\)/,
    );
  });

  test('Redis paused: a batch rejects every call with a typed error within the command timeout; resumed: calls work again', async () => {
    await call('pause', '1');
    fixture.server.pause();
    try {
      const started = Date.now();
      const settled = await Promise.allSettled(Array.from({ length: 5 }, () => call('pause', '1')));
      assert.ok(Date.now() - started < 1500, `settled after ${Date.now() - started} ms`);
      for (const s of settled) {
        assert.equal(s.status, 'rejected');
        assert.ok((s as PromiseRejectedResult).reason instanceof RedisUnavailableError, String((s as PromiseRejectedResult).reason));
      }
    } finally {
      fixture.server.resume();
    }
    await waitFor(async () => (await fixture.kit.health()).status === 'connected', 5000);
    const [r] = await Promise.all([call('pause', '1'), call('pause', '1')]);
    assert.ok(r![0] >= 2);
  });
});

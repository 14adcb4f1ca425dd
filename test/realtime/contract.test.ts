import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redkit } from '../../src/index.js';
import { contractSuite } from '../helpers/contract.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/util.js';

// The same behaviour from the Redis implementation and the in-memory (standalone) one.
contractSuite<Redkit>(
  'realtime contract',
  [
    {
      name: 'redis',
      async setup() {
        const server = await startRedis();
        const kit = await kitFor(server);
        kit.realtime.configure({ heartbeatTtlMs: 2000 });
        return {
          subject: kit,
          teardown: async () => {
            await kit.close();
            await stopRedis(server);
          },
        };
      },
    },
    {
      name: 'memory',
      async setup() {
        const kit = await standaloneKit();
        return { subject: kit, teardown: () => kit.close() };
      },
    },
  ],
  (kit, implementation) => {
    test('bus: a handler gets each message once, tagged with the sender instance, as a JSON copy', async () => {
      const got: Array<{ from: string; data: unknown; channel: string }> = [];
      const off = await kit().bus.subscribe('chat', (m) => got.push(m));
      const data = { text: 'hi', n: 1, when: new Date(0) };
      const sent = await kit().bus.publish('chat', data);
      assert.equal(sent, implementation === 'redis');
      await waitFor(() => got.length === 1, 2000, 'the message');
      assert.equal(got[0]!.from, kit().instanceId);
      assert.equal(got[0]!.channel, 'chat');
      assert.deepEqual(got[0]!.data, { text: 'hi', n: 1, when: '1970-01-01T00:00:00.000Z' });
      await off();
      await kit().bus.publish('chat', { text: 'gone' });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(got.length, 1, 'no delivery after unsubscribe');
    });

    test('bus: bad channel names and non-JSON data are refused with InvalidArgumentError', async () => {
      await assert.rejects(kit().bus.publish('has space', 1), { code: 'E_INVALID_ARGUMENT', argument: 'channel' });
      await assert.rejects(
        kit().bus.subscribe('', () => {}),
        { code: 'E_INVALID_ARGUMENT' },
      );
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await assert.rejects(kit().bus.publish('ok', cyclic), { code: 'E_INVALID_ARGUMENT', argument: 'data' });
      await assert.rejects(kit().bus.publish('ok', 1n as unknown), { code: 'E_INVALID_ARGUMENT', argument: 'data' });
    });

    test('presence: several connections of a member count once; it leaves with the last', async () => {
      const p = kit().presence;
      const events: string[] = [];
      const onJoined = (e: { room: string; member: { id: string } }) => {
        if (e.room === 'r1') events.push(`+${e.member.id}`);
      };
      const onLeft = (e: { room: string; memberId: string }) => {
        if (e.room === 'r1') events.push(`-${e.memberId}`);
      };
      p.on('joined', onJoined);
      p.on('left', onLeft);
      await p.join('r1', 'ada', { name: 'Ada' });
      await p.join('r1', 'ada', { name: 'Ada' });
      await p.join('r1', 'bob');
      assert.deepEqual(await p.members('r1'), [
        { id: 'ada', meta: { name: 'Ada' } },
        { id: 'bob', meta: {} },
      ]);
      await p.leave('r1', 'ada');
      assert.deepEqual(
        (await p.members('r1')).map((m) => m.id),
        ['ada', 'bob'],
        'one connection of ada is still there',
      );
      await p.leave('r1', 'ada');
      await p.leave('r1', 'ada'); // no-op: holds none
      assert.deepEqual(
        (await p.members('r1')).map((m) => m.id),
        ['bob'],
      );
      assert.ok((await p.rooms()).includes('r1'));
      await p.leave('r1', 'bob');
      assert.deepEqual(await p.members('r1'), []);
      assert.ok(!(await p.rooms()).includes('r1'));
      assert.deepEqual(events, ['+ada', '+bob', '-ada', '-bob']);
      p.off('joined', onJoined);
      p.off('left', onLeft);
    });

    test('presence: a watched room keeps a live view', async () => {
      const p = kit().presence;
      const unwatch = await p.watch('r2');
      await p.join('r2', 'cy', { name: 'Cy' });
      assert.deepEqual(p.view('r2'), [{ id: 'cy', meta: { name: 'Cy' } }]);
      await p.leave('r2', 'cy');
      assert.deepEqual(p.view('r2'), []);
      unwatch();
      assert.equal(p.stats().watchedRooms, 0);
    });

    test('presence: bad room, member and meta are refused with InvalidArgumentError', async () => {
      const p = kit().presence;
      await assert.rejects(p.join('', 'x'), { code: 'E_INVALID_ARGUMENT', argument: 'room' });
      await assert.rejects(p.join('a{b}', 'x'), { code: 'E_INVALID_ARGUMENT', argument: 'room' });
      await assert.rejects(p.join('r', 'x\n'), { code: 'E_INVALID_ARGUMENT', argument: 'memberId' });
      await assert.rejects(p.join('r', 'x', { nested: { a: 1 } } as never), { code: 'E_INVALID_ARGUMENT', argument: 'meta' });
      await assert.rejects(p.join('r', 'x', { big: 'x'.repeat(2000) }), { code: 'E_INVALID_ARGUMENT', argument: 'meta' });
      assert.deepEqual(await p.members('r'), [], 'nothing stored by refused joins');
    });

    test('reactions: counted per room, broadcast as events, bounded', async () => {
      const r = kit().reactions;
      const seen: number[] = [];
      const on = (e: { room: string; count: number }) => {
        if (e.room === 'r3') seen.push(e.count);
      };
      r.on('reaction', on);
      const unwatch = await r.watch('r3');
      assert.equal(await r.react('r3', '👍', 'ada'), 1);
      assert.equal(await r.react('r3', '👍'), 2);
      assert.equal(await r.react('r3', '🎉'), 1);
      assert.deepEqual(await r.counts('r3'), { '👍': 2, '🎉': 1 });
      assert.deepEqual(r.view('r3'), { '👍': 2, '🎉': 1 });
      assert.deepEqual(seen, [1, 2, 1]);
      await assert.rejects(r.react('r3', ''), { code: 'E_INVALID_ARGUMENT', argument: 'reaction' });
      await assert.rejects(r.react('r3', 'x'.repeat(33)), { code: 'E_INVALID_ARGUMENT', argument: 'reaction' });
      for (let i = 0; i < 64; i++) await r.react('r4', `k${i}`);
      await assert.rejects(r.react('r4', 'one-too-many'), { code: 'E_INVALID_ARGUMENT', argument: 'reaction' });
      assert.equal(await r.react('r4', 'k0'), 2, 'existing kinds still count');
      r.off('reaction', on);
      unwatch();
    });
  },
);

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contractSuite } from '../helpers/contract.js';
import { sleep, randomPrefix } from '../helpers/util.js';
import { InvalidArgumentError, LockBusyError, LockNotHeldError } from '../../src/index.js';
import { implementations } from './setup.js';

contractSuite('lock', implementations, (kit, impl) => {
  test('grants, refuses at once without wait, releases', async () => {
    const name = randomPrefix('n');
    const a = await kit().lock.acquire(name, { ttl: 1000 });
    assert.equal(a.name, name);
    assert.ok(a.held);
    assert.ok(a.expiresAt > Date.now() && a.expiresAt <= Date.now() + 1000);
    await assert.rejects(
      kit().lock.acquire(name, { ttl: 1000 }),
      (err: unknown) => err instanceof LockBusyError && err.code === 'E_LOCK_BUSY' && err.reason === 'busy',
    );
    assert.equal(await a.release(), true);
    assert.equal(a.signal.aborted, true, 'the signal fires on release');
    assert.equal(await a.release(), false, 'a second release reports that nothing was held');
    const b = await kit().lock.acquire(name, { ttl: 1000 });
    assert.ok(b.fence > a.fence, 'fences strictly increase');
    await b.release();
  });

  test('fences strictly increase over many grants', async () => {
    const name = randomPrefix('n');
    let last = 0;
    for (let i = 0; i < 50; i++) {
      const lock = await kit().lock.acquire(name, { ttl: 1000 });
      assert.ok(lock.fence > last);
      last = lock.fence;
      await lock.release();
    }
  });

  test('a waiter is woken by the release (FIFO order), not after its TTL', async () => {
    const name = randomPrefix('n');
    const holder = await kit().lock.acquire(name, { ttl: 1000 });
    const order: number[] = [];
    const waiters = [0, 1, 2].map(async (i) => {
      await sleep(i * 30);
      const lock = await kit().lock.acquire(name, { ttl: 1000, wait: 3000 });
      order.push(i);
      await sleep(5);
      await lock.release();
      return lock.fence;
    });
    await sleep(150);
    const released = performance.now();
    await holder.release();
    const fences = await Promise.all(waiters);
    const elapsed = performance.now() - released;
    assert.deepEqual(order, [0, 1, 2], 'granted in arrival order');
    assert.ok(fences[0]! < fences[1]! && fences[1]! < fences[2]!);
    assert.ok(elapsed < 900, `three hand-offs took ${elapsed} ms, well before the 1000 ms TTL`);
  });

  test('a waiter gives up after wait with LockBusyError, and on abort', async () => {
    const name = randomPrefix('n');
    const holder = await kit().lock.acquire(name, { ttl: 1000 });
    const start = performance.now();
    await assert.rejects(kit().lock.acquire(name, { ttl: 1000, wait: 150 }), (err: unknown) => err instanceof LockBusyError && err.reason === 'busy');
    const took = performance.now() - start;
    assert.ok(took >= 140 && took < 900, `gave up after ${took} ms`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(
      kit().lock.acquire(name, { ttl: 1000, wait: 5000, signal: controller.signal }),
      (err: unknown) => err instanceof LockBusyError && err.reason === 'aborted',
    );
    await holder.release();
    // The withdrawn waiters left no queue entry that would block the next caller.
    const next = await kit().lock.acquire(name, { ttl: 1000 });
    await next.release();
  });

  test('a lock frees itself after its TTL; the old holder cannot release or extend the new one', async () => {
    const name = randomPrefix('n');
    const a = await kit().lock.acquire(name, { ttl: 150 });
    await sleep(250);
    assert.equal(a.held, false);
    assert.equal(a.signal.aborted, true, 'the signal fired when the lease ran out');
    const b = await kit().lock.acquire(name, { ttl: 1000 });
    assert.ok(b.fence > a.fence);
    await assert.rejects(a.extend(1000), LockNotHeldError);
    assert.equal(await a.release(), false, 'releasing a lost lock is reported');
    await assert.rejects(kit().lock.acquire(name, { ttl: 1000 }), LockBusyError, 'b still holds');
    assert.equal(await b.release(), true);
  });

  test('extend keeps the lock past its first TTL', async () => {
    const name = randomPrefix('n');
    const a = await kit().lock.acquire(name, { ttl: 200 });
    await sleep(100);
    await a.extend(400);
    await sleep(200);
    assert.ok(a.held);
    await assert.rejects(kit().lock.acquire(name, { ttl: 1000 }), LockBusyError);
    assert.equal(await a.release(), true);
  });

  test('using extends while fn runs, passes a live signal and always releases', async () => {
    const name = randomPrefix('n');
    const result = await kit().lock.using(
      name,
      async (signal, lock) => {
        await sleep(1000);
        assert.equal(signal.aborted, false, 'extended automatically past the 400 ms ttl');
        assert.ok(lock.held);
        return 'done';
      },
      { ttl: 400 },
    );
    assert.equal(result, 'done');
    await assert.rejects(
      kit().lock.using(
        name,
        async () => {
          throw new Error('boom');
        },
        { ttl: 500 },
      ),
      /boom/,
    );
    const again = await kit().lock.acquire(name, { ttl: 500 });
    await again.release();
  });

  test('semaphore: never more than 3 holders under 30 contenders', async () => {
    const sem = kit().lock.semaphore(randomPrefix('s'), 3);
    let inside = 0;
    let most = 0;
    let grants = 0;
    await Promise.all(
      Array.from({ length: 30 }, async () => {
        for (let i = 0; i < 4; i++) {
          await sem.using(
            async () => {
              inside++;
              most = Math.max(most, inside);
              grants++;
              await sleep(2);
              inside--;
            },
            { ttl: 1000, wait: 10_000 },
          );
        }
      }),
    );
    assert.equal(grants, 120);
    assert.equal(most, 3);
    assert.equal(await sem.count(), 0);
  });

  test('bad input is refused with typed errors', async () => {
    const bad: Array<() => unknown> = [
      () => kit().lock.acquire(''),
      () => kit().lock.acquire('n', { ttl: 0 }),
      () => kit().lock.acquire('n', { ttl: -5 }),
      () => kit().lock.acquire('n', { ttl: Number.NaN }),
      () => kit().lock.acquire('n', { wait: -1 }),
      () => kit().lock.acquire('n', { wait: Number.POSITIVE_INFINITY }),
      () => kit().lock.semaphore('s', 0),
      () => kit().lock.semaphore('s', 1.5),
      () => kit().lock.using('', async () => 1),
      () => kit().leader.campaign(''),
      () => kit().leader.campaign('r', { ttl: 0 }),
    ];
    for (const call of bad) {
      await assert.rejects(
        async () => call(),
        (err: unknown) => err instanceof InvalidArgumentError && err.code === 'E_INVALID_ARGUMENT',
        String(call),
      );
    }
  });

  test('leader: elected, current, resign hands over', async () => {
    const role = randomPrefix('r');
    const first = kit().leader.campaign(role, { ttl: 600 });
    const epoch = await new Promise<number>((resolve) => first.once('elected', resolve));
    assert.equal(first.isLeader, true);
    assert.equal(first.epoch, epoch);
    assert.deepEqual(await kit().leader.current(role), { instanceId: kit().instanceId, epoch });
    const second = kit().leader.campaign(role, { ttl: 600 });
    const events: string[] = [];
    first.on('revoked', () => events.push('revoked'));
    const secondElected = new Promise<number>((resolve) =>
      second.once('elected', (e) => {
        events.push('elected');
        resolve(e);
      }),
    );
    await sleep(800);
    assert.equal(first.isLeader, true, 'renewed past its ttl');
    assert.equal(second.isLeader, false);
    const resigned = performance.now();
    await first.resign();
    const epoch2 = await secondElected;
    assert.ok(performance.now() - resigned < 500, 'handover right after resign');
    assert.ok(epoch2 > epoch);
    assert.deepEqual(events, ['revoked', 'elected']);
    await second.resign();
    assert.equal(await kit().leader.current(role), null);
  });

  test('runWhileLeader runs the task on election and aborts it on resign', async () => {
    const role = randomPrefix('r');
    let started: AbortSignal | undefined;
    const election = kit().leader.runWhileLeader(
      role,
      async (signal) => {
        started = signal;
      },
      { ttl: 500 },
    );
    await new Promise((resolve) => election.once('elected', resolve));
    await sleep(10);
    assert.ok(started && !started.aborted);
    await election.resign();
    assert.equal(started.aborted, true);
  });

  if (impl === 'memory') {
    test('standalone: this instance leads', async () => {
      assert.equal(kit().mode, 'standalone');
      assert.equal(kit().lock.backend.kind, 'memory');
    });
  }
});

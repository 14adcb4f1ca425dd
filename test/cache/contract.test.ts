// The same cache behaviour against Redis and against the standalone (in-memory) store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CacheSerializationError, CacheValueTooLargeError, InvalidArgumentError, type Redkit } from '../../src/index.js';
import { contractSuite } from '../helpers/contract.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { sleep, waitFor } from '../helpers/util.js';

let n = 0;
const ns = (label: string) => `${label}-${++n}`;

contractSuite<Redkit>(
  'cache contract',
  [
    {
      name: 'redis',
      async setup() {
        const server = await startRedis();
        const kit = await kitFor(server);
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
  (kit, impl) => {
    test('get/set/has/delete round-trip typed JSON values', async () => {
      const c = kit().cache.namespace<{ id: number; tags: string[]; nested: { ok: boolean } | null }>(ns('basic'), { ttl: '1m' });
      assert.equal(await c.get('a'), undefined);
      assert.equal(await c.has('a'), false);
      await c.set('a', { id: 1, tags: ['x', 'ü'], nested: { ok: true } });
      assert.deepEqual(await c.get('a'), { id: 1, tags: ['x', 'ü'], nested: { ok: true } });
      assert.equal(await c.has('a'), true);
      assert.equal(await c.delete('a'), true);
      assert.equal(await c.delete('a'), false);
      assert.equal(await c.get('a'), undefined);
      const s = c.stats();
      assert.equal(s.store, impl);
      assert.equal(s.hits, 1);
      assert.equal(s.misses, 2);
      assert.equal(s.hitRate, 1 / 3);
    });

    test('TTL expiry: namespace TTL and per-call TTL', async () => {
      const c = kit().cache.namespace<string>(ns('ttl'), { ttl: 300 });
      await c.set('ns-ttl', 'v');
      await c.set('short', 'v', { ttl: '100ms' });
      await c.set('long', 'v', { ttl: '1m' });
      assert.equal(await c.get('short'), 'v');
      await sleep(150);
      assert.equal(await c.get('short'), undefined);
      assert.equal(await c.get('ns-ttl'), 'v');
      await sleep(250);
      assert.equal(await c.get('ns-ttl'), undefined);
      assert.equal(await c.get('long'), 'v');
    });

    test('getMany/setMany', async () => {
      const c = kit().cache.namespace<number>(ns('many'), { ttl: '1m' });
      await c.setMany([
        { key: 'a', value: 1 },
        { key: 'b', value: 2, ttl: 100 },
        { key: 'c', value: 0 },
      ]);
      assert.deepEqual(await c.getMany(['a', 'b', 'missing', 'c']), [1, 2, undefined, 0]);
      await sleep(150);
      assert.deepEqual(await c.getMany(['a', 'b']), [1, undefined]);
      assert.deepEqual(await c.getMany([]), []);
      await assert.rejects(
        c.setMany([
          { key: 'ok', value: 1 },
          { key: 'bad', value: Number.NaN },
        ]),
        CacheSerializationError,
      );
      assert.equal(await c.get('ok'), undefined, 'nothing written when one value is refused');
    });

    test('1,000 concurrent getOrSet misses call the loader once', async () => {
      const c = kit().cache.namespace<{ n: number }>(ns('stampede'), { ttl: '1m' });
      let calls = 0;
      const loader = async () => {
        calls++;
        await sleep(50);
        return { n: 42 };
      };
      const results = await Promise.all(Array.from({ length: 1000 }, () => c.getOrSet('hot', loader)));
      assert.equal(calls, 1);
      assert.ok(results.every((r) => r.n === 42));
      assert.deepEqual(await c.get('hot'), { n: 42 });
      const s = c.stats();
      assert.equal(s.loads, 1);
      assert.equal(s.misses, 1);
      assert.equal(s.coalesced, 999);
      // Now cached: no further load.
      assert.deepEqual(await c.getOrSet('hot', loader), { n: 42 });
      assert.equal(calls, 1);
    });

    test('a loader error reaches every waiter and is not cached', async () => {
      const c = kit().cache.namespace<string>(ns('loaderr'), { ttl: '1m' });
      let calls = 0;
      const failing = async () => {
        calls++;
        await sleep(30);
        throw new Error('upstream down');
      };
      const settled = await Promise.allSettled(Array.from({ length: 200 }, () => c.getOrSet('k', failing)));
      assert.equal(calls, 1);
      assert.ok(settled.every((s) => s.status === 'rejected' && (s.reason as Error).message === 'upstream down'));
      assert.equal(await c.get('k'), undefined);
      assert.equal(c.stats().loadErrors, 1);
      assert.equal(await c.getOrSet('k', async () => 'recovered'), 'recovered', 'the next call loads again');
    });

    test('grace: a stale value is returned at once and refreshed in the background', async () => {
      const c = kit().cache.namespace<number>(ns('grace'), { ttl: 100, grace: '1m' });
      assert.equal(await c.getOrSet('g', () => 1), 1);
      await sleep(150);
      // The refresh loader stays pending until released: the stale answer cannot have waited for it.
      let release!: (v: number) => void;
      let refreshCalls = 0;
      const pending = () => {
        refreshCalls++;
        return new Promise<number>((resolve) => {
          release = resolve;
        });
      };
      assert.equal(await c.getOrSet('g', pending), 1, 'stale value served');
      assert.equal(await c.getOrSet('g', pending), 1, 'still stale while the refresh runs');
      await waitFor(() => refreshCalls === 1, 2000, 'background refresh started');
      assert.equal(refreshCalls, 1, 'one refresh for two stale reads');
      assert.equal(c.stats().staleServes, 2);
      release(2);
      await waitFor(() => c.has('g'), 2000, 'background refresh stored');
      assert.equal(await c.get('g'), 2);
      // A failing loader during grace: the stale value is still served, the error counted.
      await sleep(150);
      assert.equal(
        await c.getOrSet('g', async () => {
          throw new Error('boom');
        }),
        2,
      );
      await waitFor(() => c.stats().loadErrors === 1, 2000, 'background error counted');
      assert.equal(await c.getOrSet('g', () => 3), 2, 'stale again, not an error');
    });

    test('no grace: an expired value is gone', async () => {
      const c = kit().cache.namespace<number>(ns('nograce'), { ttl: 80 });
      await c.set('k', 1);
      await sleep(120);
      assert.equal(await c.getOrSet('k', () => 2), 2);
    });

    test('jitter spreads expiry of keys written together', async () => {
      const c = kit().cache.namespace<number>(ns('jitter'), { ttl: 200, jitter: 1 });
      await c.setMany(Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: i })));
      await sleep(300);
      const alive = (await c.getMany(Array.from({ length: 40 }, (_, i) => `k${i}`))).filter((v) => v !== undefined).length;
      // TTLs spread uniformly over 200–400 ms: at 300 ms about half are alive; all-or-nothing would mean no jitter.
      assert.ok(alive > 0 && alive < 40, `alive=${alive}`);
    });

    test('clear() empties one namespace and leaves the others', async () => {
      const a = kit().cache.namespace<number>(ns('clear-a'), { ttl: '1m' });
      const b = kit().cache.namespace<number>(ns('clear-b'), { ttl: '1m' });
      await a.setMany(Array.from({ length: 2500 }, (_, i) => ({ key: `k${i}`, value: i })));
      await b.set('k1', 1);
      assert.equal(await a.clear(), 2500);
      assert.equal(await a.get('k1'), undefined);
      assert.equal(await b.get('k1'), 1);
    });

    test('namespaces never see each other', async () => {
      const a = kit().cache.namespace<string>(ns('iso'), { ttl: '1m' });
      const b = kit().cache.namespace<string>(ns('iso'), { ttl: '1m' });
      await a.set('same', 'a');
      assert.equal(await b.get('same'), undefined);
    });

    test('values JSON cannot hold are refused with a clear error; nothing is stored', async () => {
      const c = kit().cache.namespace<unknown>(ns('json'), { ttl: '1m' });
      const cases: Array<[unknown, RegExp]> = [
        [undefined, /undefined/],
        [{ at: new Date() }, /value\.at is a Date/],
        [{ n: Number.NaN }, /NaN/],
        [[1, undefined], /value\[1\] is undefined/],
        [{ big: 10n }, /BigInt/],
        [new Map([[1, 2]]), /Map/],
        [{ f() {} }, /function/],
      ];
      for (const [value, message] of cases) {
        await assert.rejects(
          c.set('k', value),
          (err: unknown) => err instanceof CacheSerializationError && err.code === 'E_CACHE_SERIALIZATION' && message.test(err.message),
          String(message),
        );
      }
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      await assert.rejects(c.set('k', circular), CacheSerializationError);
      assert.equal(await c.get('k'), undefined);
      await assert.rejects(
        c.getOrSet('u', async () => undefined),
        CacheSerializationError,
      );
    });

    test('oversized values are refused', async () => {
      const c = kit().cache.namespace<string>(ns('size'), { ttl: '1m', maxValueBytes: 1000 });
      await c.set('ok', 'x'.repeat(900));
      await assert.rejects(
        c.set('big', 'é'.repeat(600)),
        (err: unknown) => err instanceof CacheValueTooLargeError && err.bytes > 1000 && err.limitBytes === 1000,
      );
      assert.equal(await c.get('big'), undefined);
    });

    test('a pluggable serializer', async () => {
      const c = kit().cache.namespace<Date>(ns('ser'), {
        ttl: '1m',
        serializer: { serialize: (d) => String((d as Date).getTime()), deserialize: (s) => new Date(Number(s)) },
      });
      const when = new Date('2024-02-03T04:05:06Z');
      await c.set('d', when);
      const back = await c.get('d');
      assert.ok(back instanceof Date);
      assert.equal(back.getTime(), when.getTime());
    });

    test('wrap caches a function by its arguments', async () => {
      const c = kit().cache.namespace<number>(ns('wrap'), { ttl: '1m' });
      let calls = 0;
      const square = c.wrap(async (x: number) => {
        calls++;
        return x * x;
      });
      assert.equal(await square(3), 9);
      assert.equal(await square(3), 9);
      assert.equal(await square(4), 16);
      assert.equal(calls, 2);
      const fixed = c.wrap(
        () => {
          calls++;
          return 7;
        },
        { key: 'seven', ttl: '1m' },
      );
      assert.equal(await fixed(), 7);
      assert.equal(await c.get('seven'), 7);
    });

    test('hashKey is SHA-256, stable for strings, buffers and plain objects', () => {
      const c = kit().cache;
      assert.equal(c.hashKey('hello'), '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
      assert.equal(c.hashKey(Buffer.from('hello')), c.hashKey('hello'));
      assert.equal(c.hashKey({ a: 1, b: [1, { c: 2, d: 3 }] }), c.hashKey({ b: [1, { d: 3, c: 2 }], a: 1 }));
      assert.notEqual(c.hashKey({ a: 1 }), c.hashKey({ a: 2 }));
      assert.throws(() => c.hashKey(() => 1), InvalidArgumentError);
    });

    test('bad arguments get InvalidArgumentError naming the input', async () => {
      const c = kit().cache.namespace<number>(ns('args'), { ttl: '1m' });
      await assert.rejects(c.get(''), (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'key');
      await assert.rejects(c.get(42 as unknown as string), InvalidArgumentError);
      await assert.rejects(c.getOrSet('k', 'nope' as never), (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'loader');
      await assert.rejects(c.set('k', 1, { ttl: 'soon' }), (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'ttl');
      assert.throws(
        () => kit().cache.namespace('a:b'),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'name',
      );
      assert.throws(() => kit().cache.namespace(ns('t'), { ttl: 0 }), InvalidArgumentError);
      assert.throws(() => kit().cache.namespace(ns('j'), { jitter: 2 }), InvalidArgumentError);
      const name = ns('again');
      const first = kit().cache.namespace(name, { ttl: '1m' });
      assert.equal(kit().cache.namespace(name), first);
      assert.equal(kit().cache.namespace(name, { ttl: '1m' }), first);
      assert.throws(() => kit().cache.namespace(name, { ttl: '2m' }), InvalidArgumentError);
    });

    test('kit.cache.stats() lists every namespace', async () => {
      const name = ns('stats');
      const c = kit().cache.namespace<number>(name, { ttl: '1m' });
      await c.getOrSet('k', () => 1);
      await c.getOrSet('k', () => 1);
      const s = kit().cache.stats()[name]!;
      assert.equal(s.hits, 1);
      assert.equal(s.misses, 1);
      assert.equal(s.loads, 1);
      assert.equal(s.hitRate, 0.5);
    });
  },
);

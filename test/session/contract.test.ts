// The session store's contract, run against Redis and against the standalone (in-memory) store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError, SessionDataError, type Redkit, type SessionStore } from '../../src/index.js';
import { contractSuite } from '../helpers/contract.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { sleep } from '../helpers/util.js';
import { keysEverywhere } from '../helpers/keys.js';

interface Subject {
  kit: Redkit;
  store: SessionStore;
}

contractSuite<Subject>(
  'session store',
  [
    {
      name: 'redis',
      async setup() {
        const server = await startRedis();
        const kit = await kitFor(server);
        return {
          subject: { kit, store: kit.sessionStore() },
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
        return { subject: { kit, store: kit.sessionStore() }, teardown: () => kit.close() };
      },
    },
  ],
  (subject) => {
    const cookie = (maxAge: number) => ({ maxAge, originalMaxAge: maxAge, httpOnly: true, path: '/' });

    test('set then get returns the same JSON data; a missing session is null', async () => {
      const { store } = subject();
      const data = { cookie: cookie(60_000), user: { id: 7, name: 'ada' }, roles: ['admin'], n: 1.5, ok: true };
      await store.set('sid-a', data);
      assert.deepEqual(await store.get('sid-a'), JSON.parse(JSON.stringify(data)));
      assert.equal(await store.get('sid-none'), null);
    });

    test('callback style: get, set, touch, destroy, length call back once with (err, value)', async () => {
      const { store } = subject();
      const call = <T>(fn: (cb: (err?: unknown, v?: T) => void) => void) =>
        new Promise<T>((resolve, reject) => {
          let calls = 0;
          fn((err, v) => {
            calls++;
            setImmediate(() => (calls === 1 ? (err ? reject(err) : resolve(v as T)) : reject(new Error('called back twice'))));
          });
        });
      await call((cb) => store.set('sid-cb', { cookie: cookie(60_000), a: 1 }, cb));
      assert.deepEqual((await call<Record<string, unknown> | null>((cb) => store.get('sid-cb', cb)))?.a, 1);
      await call((cb) => store.touch('sid-cb', { cookie: cookie(60_000) }, cb));
      assert.ok((await call<number>((cb) => store.length(cb))) >= 1);
      await call((cb) => store.destroy('sid-cb', cb));
      assert.equal(await call((cb) => store.get('sid-cb', cb)), null);
    });

    test('the TTL comes from cookie.maxAge (or cookie.expires): the session is gone after it', async () => {
      const { store } = subject();
      await store.set('sid-short', { cookie: cookie(800) });
      await store.set('sid-expires', { cookie: { expires: new Date(Date.now() + 800).toISOString() } });
      await store.set('sid-long', { cookie: cookie(60_000) });
      assert.ok(await store.get('sid-short'));
      assert.ok(await store.get('sid-expires'));
      await sleep(1300);
      assert.equal(await store.get('sid-short'), null);
      assert.equal(await store.get('sid-expires'), null);
      assert.ok(await store.get('sid-long'));
    });

    test('a cookie already expired destroys the session instead of storing it', async () => {
      const { store } = subject();
      await store.set('sid-exp', { cookie: cookie(60_000), v: 1 });
      await store.set('sid-exp', { cookie: { expires: new Date(Date.now() - 1000) }, v: 2 });
      assert.equal(await store.get('sid-exp'), null);
    });

    test('touch extends the TTL and never rewrites the data', async () => {
      const { store } = subject();
      await store.set('sid-t', { cookie: cookie(800), cart: ['new'] });
      // A touch carrying an older copy of the session (another request saved since) must not win.
      await store.touch('sid-t', { cookie: cookie(60_000), cart: ['old'] });
      await sleep(1300);
      const got = await store.get('sid-t');
      assert.ok(got, 'touch extended the TTL past the original 800 ms');
      assert.deepEqual(got.cart, ['new']);
      await store.touch('sid-missing', { cookie: cookie(60_000), x: 1 });
      assert.equal(await store.get('sid-missing'), null, 'touch does not create a session');
    });

    test('a session without cookie expiry gets the default ttlMs', async () => {
      const { kit } = subject();
      const store = kit.sessionStore({ ttlMs: 800 });
      await store.set('sid-default', { user: 1 });
      assert.ok(await store.get('sid-default'));
      await sleep(1300);
      assert.equal(await store.get('sid-default'), null);
    });

    test("length, all and clear cover this store's sessions", async () => {
      const { kit } = subject();
      const store = kit.sessionStore();
      await store.clear();
      await store.set('s1', { cookie: cookie(60_000), n: 1 });
      await store.set('s2', { cookie: cookie(60_000), n: 2 });
      assert.equal(await store.length(), 2);
      const all = await store.all();
      assert.deepEqual(all.map((s) => [s.id, s.n]).sort(), [
        ['s1', 1],
        ['s2', 2],
      ]);
      await store.clear();
      assert.equal(await store.length(), 0);
      assert.deepEqual(await store.all(), []);
    });

    test('data that is not JSON is refused with SessionDataError, and the stored copy is kept', async () => {
      const { store } = subject();
      await store.set('sid-j', { cookie: cookie(60_000), v: 1 });
      const cyclic: Record<string, unknown> = { cookie: cookie(60_000) };
      cyclic.self = cyclic;
      await assert.rejects(store.set('sid-j', cyclic), SessionDataError);
      await assert.rejects(store.set('sid-j', { cookie: cookie(60_000), big: 10n }), SessionDataError);
      assert.equal((await store.get('sid-j'))?.v, 1);
    });

    test('a bad session id is an InvalidArgumentError that does not quote it', async () => {
      const { store } = subject();
      await assert.rejects(store.get(''), InvalidArgumentError);
      await assert.rejects(store.set('a\nb', { cookie: cookie(1000) }), (err: Error) => err instanceof InvalidArgumentError && !err.message.includes('a\nb'));
    });
  },
);

test('standalone: bounded by maxEntries, the least recently used session goes first', async () => {
  const kit = await standaloneKit();
  try {
    const store = kit.sessionStore({ maxEntries: 3 });
    const c = { cookie: { maxAge: 60_000 } };
    await store.set('a', c);
    await store.set('b', c);
    await store.set('c', c);
    await store.get('a'); // a is now more recent than b
    await store.set('d', c);
    assert.equal(await store.length(), 3);
    assert.equal(await store.get('b'), null);
    assert.ok(await store.get('a'));
    assert.ok(await store.get('d'));
  } finally {
    await kit.close();
  }
});

test('redis: keys are <prefix>:<environment>:session:<sid> with a TTL, values JSON', async () => {
  const server = await startRedis();
  const kit = await kitFor(server, { keyPrefix: 'app', environment: 'staging' });
  try {
    const store = kit.sessionStore();
    await store.set('abc', { cookie: { maxAge: 60_000 }, user: 'u1' });
    const keys = await keysEverywhere(kit.redis!, '*');
    assert.deepEqual(keys, ['app:staging:session:abc']);
    const pttl = await kit.redis!.pttl('app:staging:session:abc');
    assert.ok(pttl > 55_000 && pttl <= 60_000, `pttl=${pttl}`);
    assert.deepEqual(JSON.parse((await kit.redis!.get('app:staging:session:abc'))!), { cookie: { maxAge: 60_000 }, user: 'u1' });
    // Another environment on the same Redis never sees it.
    const other = await kitFor(server, { keyPrefix: 'app', environment: 'production' });
    try {
      assert.equal(await other.sessionStore().get('abc'), null);
      assert.equal(await other.sessionStore().length(), 0);
    } finally {
      await other.close();
    }
  } finally {
    await kit.close();
    await stopRedis(server);
  }
});

// Mixed load (cache, locks, rate limits) on a real cluster while it changes under it: a master
// killed (fences must still strictly increase per name; acknowledged grants may be lost, counted
// here) and slots resharded (0 errors may reach a caller: ioredis follows MOVED and ASK).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRedkit, silentLogger, type Redkit } from '../../src/index.js';
import { startCluster, type RedisCluster } from '../helpers/cluster.js';
import { randomPrefix, sleep } from '../helpers/util.js';

function clusterKit(cluster: RedisCluster): Promise<Redkit> {
  return createRedkit({
    env: {},
    clusterNodes: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(','),
    keyPrefix: randomPrefix(),
    connectTimeoutMs: 2000,
    // Generous: a reshard or a loaded box must not turn into timeouts that are not the cluster's.
    commandTimeoutMs: 2000,
    healthIntervalMs: 200,
    logger: silentLogger,
    backoff: { baseMs: 20, maxMs: 200 },
  } as never);
}

interface Load {
  stop(): Promise<void>;
  ops: number;
  errors: string[];
  /** Fences granted per lock name, in grant order. */
  fences: Map<string, number[]>;
}

/** `workers` loops of cache set+get, lock acquire+release and a rate-limit consume, until stopped. */
function mixedLoad(kit: Redkit, workers: number, names = 12): Load {
  const cache = kit.cache.namespace('load', { strict: true, l1: false } as never);
  const limiter = kit.rateLimiter({ name: 'load', algorithm: 'sliding-window', limit: 1_000_000, windowMs: 60_000, onRedisDown: 'deny' } as never);
  const load: Load = { stop: async () => undefined, ops: 0, errors: [], fences: new Map() };
  let running = true;
  const note = (what: string) => (err: unknown) => {
    const e = err as Error & { code?: string; reason?: string };
    load.errors.push(`${what}: ${e?.name}/${e?.code}/${e?.reason}: ${String(e?.message).slice(0, 200)}`);
  };
  const loop = async (w: number) => {
    for (let i = 0; running; i++) {
      const key = `k${(w * 7919 + i) % 500}`;
      const name = `n${(w + i) % names}`;
      await Promise.all([
        cache
          .set(key, { w, i })
          .then(() => cache.get(key))
          .catch(note('cache')),
        kit.lock
          .acquire(name, { ttl: 2000, wait: 3000 })
          .then(async (lock) => {
            let list = load.fences.get(name);
            if (!list) load.fences.set(name, (list = []));
            list.push(lock.fence);
            await lock.release();
          })
          .catch(note('lock')),
        limiter
          .consume(key)
          .then((r) => {
            if (r.decidedBy !== 'redis') throw Object.assign(new Error(`rate limit decided by ${r.decidedBy}`), { name: 'Degraded' });
          })
          .catch(note('ratelimit')),
      ]);
      load.ops += 3;
    }
  };
  const done = Promise.all(Array.from({ length: workers }, (_, w) => loop(w)));
  load.stop = async () => {
    running = false;
    await done;
  };
  return load;
}

function assertFencesIncrease(load: Load): number {
  let grants = 0;
  for (const [name, fences] of load.fences) {
    grants += fences.length;
    for (let i = 1; i < fences.length; i++) assert.ok(fences[i]! > fences[i - 1]!, `${name}: fence ${fences[i]} after ${fences[i - 1]}`);
  }
  return grants;
}

describe('cluster under load', () => {
  let cluster: RedisCluster;
  let kit: Redkit;
  before(async () => {
    cluster = await startCluster();
    kit = await clusterKit(cluster);
  });
  after(async () => {
    await kit?.close();
    await cluster?.stop();
  });

  test('a slot reshard under mixed load: 0 errors reach callers', async () => {
    await cluster.refresh();
    const [from, to] = cluster.masters();
    const load = mixedLoad(kit, 6);
    await sleep(500);
    const started = performance.now();
    await cluster.reshard(from!, to!, 1000, 120_000);
    const reshardMs = performance.now() - started;
    await sleep(500);
    await load.stop();
    const grants = assertFencesIncrease(load);
    console.log(`# reshard of 1000 slots: ${Math.round(reshardMs)} ms under load, ${load.ops} calls, ${grants} lock grants, ${load.errors.length} errors`);
    assert.deepEqual(load.errors.slice(0, 10), [], `${load.errors.length} errors reached callers`);
    assert.ok(grants > 0);
  });

  test('kill -9 of a master under mixed load: fences per name strictly increase; lost grants counted', async () => {
    await cluster.refresh();
    const victim = cluster.masters()[0]!;
    // Held across the kill: names whose grant was acknowledged just before it. After the
    // promotion, a name that can be taken again lost its grant (asynchronous replication).
    const held: Array<{ name: string; ackedBeforeKillMs: number }> = [];
    const holdErrors: string[] = [];
    const load = mixedLoad(kit, 4);
    let holding = true;
    const holder = (async () => {
      for (let i = 0; holding; i++) {
        const name = `held-${i}`;
        const acked = await kit.lock.acquire(name, { ttl: 60_000, restartGuard: 1000 } as never).then(
          () => performance.now(),
          (err: unknown) => {
            holdErrors.push(String((err as Error)?.message));
            return null;
          },
        );
        if (acked !== null) held.push({ name, ackedBeforeKillMs: acked });
        await sleep(2);
      }
    })();
    await sleep(800);
    const killedAt = performance.now();
    holding = false;
    await victim.kill();
    await holder;
    const promoted = await cluster.waitForPromotion(victim, 30_000);
    const promotedAt = performance.now();
    // Writes resume within 10 s of the promotion: load keeps running, count its errors after.
    await sleep(1000);
    const errorsAtResume = load.errors.length;
    await sleep(2000);
    await load.stop();
    const lateErrors = load.errors.slice(errorsAtResume);
    const grants = assertFencesIncrease(load);
    let lost = 0;
    let latestLostMs = 0;
    for (const h of held) {
      const again = await kit.lock.acquire(h.name, { ttl: 1000 }).then(
        async (l) => {
          await l.release();
          return true;
        },
        () => false,
      );
      if (again) {
        lost++;
        latestLostMs = Math.max(latestLostMs, killedAt - h.ackedBeforeKillMs);
      }
    }
    console.log(
      `# kill -9 under load: promoted port ${promoted.port} ${Math.round(promotedAt - killedAt)} ms after the kill; ${grants} grants, fences increasing; ` +
        `${load.errors.length} errors during the outage, ${lateErrors.length} from 1 s after the promotion; ` +
        `held grants lost: ${lost}/${held.length} (${holdErrors.length} acquire errors ${holdErrors[0] ?? ''})${lost ? ` (acknowledged up to ${Math.round(latestLostMs)} ms before the kill)` : ''}`,
    );
    assert.deepEqual(lateErrors.slice(0, 10), [], 'calls work again within a second of the promotion');
    await victim.start();
    await cluster.waitForOk(30_000);
  });
});

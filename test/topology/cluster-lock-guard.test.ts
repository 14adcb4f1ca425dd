// The lock's restart guard on a cluster: what it compares (run_id, or the data marker where INFO
// is refused) is per node, and per slot for the marker. One shared value flips between masters
// (a refused script and a retry each time) and, for the marker, lives on one node only: a master
// restarted empty elsewhere would go unseen.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import calculateSlot from 'cluster-key-slot';
import { createRedkit, LockBusyError, silentLogger, type Redkit } from '../../src/index.js';
import { startCluster, type RedisCluster } from '../helpers/cluster.js';
import { adminCall, parseInfo } from '../helpers/topology-process.js';
import { randomPrefix, sleep } from '../helpers/util.js';

const USER = 'locker';
const PASS = 'locker-pass-7c1e';

function clusterKit(cluster: RedisCluster, auth: { username?: string; password?: string } = {}): Promise<Redkit> {
  return createRedkit({
    env: {},
    clusterNodes: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(','),
    keyPrefix: randomPrefix(),
    connectTimeoutMs: 2000,
    commandTimeoutMs: 1000,
    healthIntervalMs: 200,
    logger: silentLogger,
    backoff: { baseMs: 20, maxMs: 200 },
    ...auth,
  } as never);
}

/** Script calls (EVALSHA and EVAL) served by the masters so far. */
async function scriptCalls(cluster: RedisCluster): Promise<number> {
  let total = 0;
  for (const node of cluster.masters()) {
    const stats = parseInfo(await adminCall(node.port, ['INFO', 'commandstats']));
    for (const cmd of ['cmdstat_evalsha', 'cmdstat_eval']) total += Number(/calls=(\d+)/.exec(stats[cmd] ?? '')?.[1] ?? 0);
  }
  return total;
}

/** Lock names whose keys are served by each master port. */
async function namesByNode(cluster: RedisCluster, kit: Redkit, count: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const name = `guard-${i}`;
    out.set(name, (await cluster.masterOf(calculateSlot(kit.keys.tagged('lock', `lock:${name}`, 'h')))).port);
  }
  return out;
}

describe('cluster: the lock restart guard is per node', () => {
  let cluster: RedisCluster;
  before(async () => {
    // A slow node timeout: a master killed and restarted at once comes back as the (empty) master.
    // The ACL user may not run INFO (-@dangerous): the guard then uses its data marker.
    cluster = await startCluster({ nodeTimeoutMs: 8000, args: ['--user', USER, 'on', `>${PASS}`, '~*', '&*', '+@all', '-@dangerous'] });
  });
  after(async () => {
    await cluster?.stop();
  });

  test('names on three masters: one run_id per node, no stale-run retry per call', async () => {
    const kit = await clusterKit(cluster);
    try {
      const names = [...(await namesByNode(cluster, kit, 30)).keys()];
      const before = await scriptCalls(cluster);
      for (const name of names) await kit.lock.acquire(name, { ttl: 1000, restartGuard: 0 } as never);
      const calls = (await scriptCalls(cluster)) - before;
      console.log(`# ${names.length} acquires over 3 masters: ${calls} script calls`);
      // One stale-run reply per node to learn its run_id (and a NOSCRIPT reload or two), never one per switch of node.
      assert.ok(calls <= names.length + 8, `${calls} script calls for ${names.length} acquires`);
    } finally {
      await kit.close();
    }
  });

  for (const mode of ['run_id', 'marker'] as const) {
    test(`a master restarted empty (${mode}): its names are guarded, the others' are not`, async () => {
      const kit = await clusterKit(cluster, mode === 'marker' ? { username: USER, password: PASS } : {});
      try {
        await cluster.refresh();
        const byNode = await namesByNode(cluster, kit, 30);
        const victim = cluster.masters()[mode === 'run_id' ? 0 : 1]!;
        // Every name served once, so that each carries its run, then the ttl of these grants passes.
        for (const name of byNode.keys()) await (await kit.lock.acquire(name, { ttl: 500, restartGuard: 0 } as never)).release();
        // The markers were created just now: a marker younger than the guard guards its slot too.
        await sleep(4500);
        await victim.kill();
        await victim.start();
        await cluster.waitForOk(30_000);
        const guarded: string[] = [];
        const granted: string[] = [];
        const other: string[] = [];
        for (const [name, port] of byNode) {
          // The guard is the ttl (4 s): the restarted node has been up (its marker has lived) for less.
          const outcome = await kit.lock.acquire(name, { ttl: 4000 }).then(
            async (l) => {
              await l.release();
              return 'granted';
            },
            (err: unknown) => (err instanceof LockBusyError && err.reason === 'restart-guard' ? 'guard' : String(err)),
          );
          if (outcome === 'guard') guarded.push(`${name}@${port}`);
          else if (outcome === 'granted') granted.push(`${name}@${port}`);
          else other.push(`${name}@${port}: ${outcome}`);
        }
        assert.deepEqual(other, []);
        assert.ok(
          guarded.length > 0 && guarded.every((g) => g.endsWith(`@${victim.port}`)),
          `guarded only on the restarted ${victim.port}: ${guarded.join(', ')}`,
        );
        assert.ok(
          granted.every((g) => !g.endsWith(`@${victim.port}`)),
          `no grant on the restarted master within the guard: ${granted.join(', ')}`,
        );
      } finally {
        await kit.close();
      }
    });
  }
});

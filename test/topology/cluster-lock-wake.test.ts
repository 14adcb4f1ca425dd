// Lock wake-ups on a cluster are sharded: the release script SPUBLISHes in the name's slot and the
// waiter hears it over the sharded subscriber's connection to that master. A classic PUBLISH is
// copied over the cluster bus to every node and reaches the subscriber through whichever node it
// uses: one more hop per contended hand-off (bench/lock.ts contended: about half the grants/s).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import calculateSlot from 'cluster-key-slot';
import { createRedkit, silentLogger, type Redkit } from '../../src/index.js';
import { startCluster, type RedisCluster } from '../helpers/cluster.js';
import { adminCall, parseInfo } from '../helpers/topology-process.js';
import { randomPrefix, sleep } from '../helpers/util.js';

/** Calls of `command` served by each master so far, by port. */
async function callsPerMaster(cluster: RedisCluster, command: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const node of cluster.masters()) {
    const stats = parseInfo(await adminCall(node.port, ['INFO', 'commandstats']));
    out.set(node.port, Number(/calls=(\d+)/.exec(stats[`cmdstat_${command}`] ?? '')?.[1] ?? 0));
  }
  return out;
}

function total(calls: Map<number, number>): number {
  let sum = 0;
  for (const n of calls.values()) sum += n;
  return sum;
}

describe('cluster: lock wake-ups use sharded pub/sub', () => {
  let cluster: RedisCluster;
  let kit: Redkit;
  before(async () => {
    cluster = await startCluster();
    kit = await createRedkit({
      env: {},
      clusterNodes: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(','),
      keyPrefix: randomPrefix(),
      connectTimeoutMs: 2000,
      commandTimeoutMs: 2000,
      logger: silentLogger,
    } as never);
  });
  after(async () => {
    await kit?.close();
    await cluster?.stop();
  });

  test('a release hands the lock over with an SPUBLISH on the name’s master, no PUBLISH', async () => {
    const name = 'wake-sharded';
    const master = (await cluster.masterOf(calculateSlot(kit.keys.tagged('lock', `lock:${name}`, 'h')))).port;
    const holder = await kit.lock.acquire(name, { ttl: 60_000, restartGuard: 0 });
    const publishBefore = await callsPerMaster(cluster, 'publish');
    const spublishBefore = await callsPerMaster(cluster, 'spublish');
    const started = performance.now();
    const waiting = kit.lock.acquire(name, { ttl: 60_000, wait: 30_000, restartGuard: 0 });
    // Let the waiter queue and subscribe before the release.
    await sleep(300);
    await holder.release();
    const next = await waiting;
    // The lease is 60 s: only the wake-up can grant this soon (generous for a loaded machine).
    assert.ok(performance.now() - started < 15_000, 'the waiter was woken, not granted by a lease re-check');
    assert.ok(next.fence > holder.fence);
    await next.release();
    const publishAfter = await callsPerMaster(cluster, 'publish');
    const spublishAfter = await callsPerMaster(cluster, 'spublish');
    assert.equal(total(publishAfter) - total(publishBefore), 0, 'no classic PUBLISH (copied to every node)');
    assert.ok((spublishAfter.get(master) ?? 0) - (spublishBefore.get(master) ?? 0) >= 1, 'the wake-up was SPUBLISHed on the name’s master');
  });
});

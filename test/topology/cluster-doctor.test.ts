// `redkit doctor` against a real cluster: a healthy one, one with a master down, old untagged
// queue keys, and seeds that are a replica, a plain server or a sentinel port.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { runDoctor, type DoctorReport } from '../../src/cli/doctor.js';
import { startCluster, type RedisCluster } from '../helpers/cluster.js';
import { startSentinelSet, type SentinelSet } from '../helpers/sentinel.js';
import { freePort } from '../helpers/redis-server.js';
import { spawnTopologyProcess, type TopologyProcess } from '../helpers/topology-process.js';
import { randomPrefix } from '../helpers/util.js';

const step = (report: DoctorReport, name: string) => report.steps.find((s) => s.name === name);
const doctor = (seeds: string, prefix = randomPrefix()) => runDoctor({ env: {}, clusterNodes: seeds, keyPrefix: prefix, connectTimeoutMs: 2000 } as never);

describe('redkit doctor on a cluster', () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  test('a healthy cluster: every node, all slots, replicas, maxmemory-policy', async () => {
    const report = await doctor(cluster.seeds.map((s) => `${s.host}:${s.port}`).join(','));
    const text = JSON.stringify(report.steps, null, 1);
    assert.equal(report.exitCode, 0, text);
    assert.match(step(report, 'topology')!.detail, /Redis Cluster: 3 masters/);
    assert.equal(step(report, 'nodes')!.status, 'ok', text);
    assert.match(step(report, 'nodes')!.detail, /all 6 announced nodes/);
    assert.equal(step(report, 'slots')!.status, 'ok');
    assert.equal(step(report, 'replicas')!.status, 'ok');
    assert.equal(step(report, 'maxmemory-policy')!.status, 'ok');
    assert.equal(step(report, 'queue-keys')!.status, 'ok');
  });

  test('a replica as the seed is fine; old untagged queue keys and a non-noeviction master warn', async () => {
    await cluster.refresh();
    const prefix = randomPrefix();
    const key = `${prefix}:queue:emails:meta`;
    const master = await cluster.nodeForKey(key);
    const client = new Redis({ host: master.host, port: master.port });
    try {
      await client.set(key, 'old layout');
      await client.config('SET', 'maxmemory-policy', 'allkeys-lru');
      const replica = cluster.replicasOf(master)[0]!;
      const report = await doctor(`${replica.host}:${replica.port}`, prefix);
      const text = JSON.stringify(report.steps, null, 1);
      assert.equal(report.exitCode, 0, text);
      assert.match(step(report, 'topology')!.detail, /is a replica: fine/);
      assert.equal(step(report, 'queue-keys')!.status, 'warn', text);
      assert.match(step(report, 'queue-keys')!.detail, new RegExp(`:${master.port}`));
      assert.ok(step(report, 'queue-keys')!.fix);
      assert.equal(step(report, 'maxmemory-policy')!.status, 'warn');
      assert.match(step(report, 'maxmemory-policy')!.detail, new RegExp(`:${master.port}: allkeys-lru`));
    } finally {
      await client.config('SET', 'maxmemory-policy', 'noeviction');
      await client.del(key);
      client.disconnect();
    }
  });

  test('a master down: the node does not answer (exit 1)', async () => {
    await cluster.refresh();
    const victim = cluster.masters()[0]!;
    const seed = cluster.masters()[1]!;
    await victim.kill();
    try {
      const report = await doctor(`${seed.host}:${seed.port}`);
      const text = JSON.stringify(report.steps, null, 1);
      assert.equal(report.exitCode, 1, text);
      assert.equal(step(report, 'nodes')!.status, 'fail', text);
      assert.match(step(report, 'nodes')!.detail, new RegExp(`:${victim.port}`));
    } finally {
      await victim.start();
      await cluster.waitForOk(30_000);
    }
  });
});

describe('redkit doctor: seeds that are no cluster node', () => {
  let plain: TopologyProcess;
  let set: SentinelSet;
  before(async () => {
    const port = await freePort();
    plain = await spawnTopologyProcess(['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], port, 'plain redis');
    set = await startSentinelSet();
  });
  after(async () => {
    await plain?.kill();
    await set?.stop();
  });

  test('a plain redis-server: not a cluster node, with the fix', async () => {
    const report = await doctor(`127.0.0.1:${plain.port}`);
    assert.equal(report.exitCode, 1);
    assert.equal(step(report, 'topology')!.status, 'fail');
    assert.match(step(report, 'topology')!.detail, /not a Redis Cluster node/);
    assert.match(String(step(report, 'topology')!.fix), /REDIS_URL/);
  });

  test('a sentinel port: named as a sentinel, with the fix', async () => {
    const sentinel = set.sentinels[0]!;
    const report = await doctor(`127.0.0.1:${sentinel.port}`);
    assert.equal(report.exitCode, 1, JSON.stringify(report.steps));
    assert.match(step(report, 'topology')!.detail, /Sentinel/);
    assert.match(String(step(report, 'topology')!.fix), /REDIS_SENTINELS/);
  });
});

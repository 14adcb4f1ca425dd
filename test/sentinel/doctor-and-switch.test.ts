// redkit doctor on a Sentinel set and on wrong targets; the REDKIT_TEST_TOPOLOGY switch itself.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runDoctor } from '../../src/cli/doctor.js';
import { startSentinelSet, type SentinelSet } from '../helpers/sentinel.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { liveTopologyProcesses } from '../helpers/topology-process.js';

const stepOf = (report: Awaited<ReturnType<typeof runDoctor>>, name: string) => report.steps.find((s) => s.name === name);

describe('sentinel: doctor', () => {
  let set: SentinelSet;
  before(async () => {
    set = await startSentinelSet();
  });
  after(async () => {
    await set?.stop();
  });

  test('a healthy set: sentinels, quorum, master, replicas and role all ok', async () => {
    const sentinels = set.sentinelAddresses.map((s) => `${s.host}:${s.port}`).join(',');
    const report = await runDoctor({ env: { REDIS_SENTINELS: sentinels, REDIS_SENTINEL_MASTER_NAME: set.masterName } });
    const master = await set.currentMaster();
    assert.equal(report.exitCode, 0, JSON.stringify(report.steps));
    assert.equal(stepOf(report, 'sentinels')?.detail, '3/3 sentinels answer');
    assert.equal(stepOf(report, 'quorum')?.status, 'ok');
    assert.match(stepOf(report, 'master')!.detail, new RegExp(`names 127.0.0.1:${master.port}`));
    assert.equal(stepOf(report, 'replicas')?.detail, '2/2 replicas up and in sync');
    assert.match(stepOf(report, 'role')!.detail, /sentinel-managed master \(2 replicas/);
  });

  test('a wrong master name fails at the quorum with a fix naming the variable', async () => {
    const sentinels = set.sentinelAddresses.map((s) => `${s.host}:${s.port}`).join(',');
    const report = await runDoctor({ env: { REDIS_SENTINELS: sentinels, REDIS_SENTINEL_MASTER_NAME: 'nope' } });
    assert.equal(report.exitCode, 1);
    assert.equal(stepOf(report, 'quorum')?.status, 'fail');
    assert.match(stepOf(report, 'quorum')!.fix!, /REDIS_SENTINEL_MASTER_NAME/);
  });

  test('REDIS_URL at a replica or at a sentinel port: role fails, not usable', async () => {
    await set.refresh();
    const replica = set.dataNodes.find((n) => n.role === 'replica')!;
    const atReplica = await runDoctor({ env: { REDIS_URL: `redis://127.0.0.1:${replica.port}` } });
    assert.equal(atReplica.exitCode, 1);
    assert.match(stepOf(atReplica, 'role')!.detail, /read-only replica/);
    const atSentinel = await runDoctor({ env: { REDIS_URL: `redis://127.0.0.1:${set.sentinels[0]!.port}` } });
    assert.equal(atSentinel.exitCode, 1);
    assert.match(stepOf(atSentinel, 'role')!.fix!, /REDIS_SENTINELS/);
  });

  test('one sentinel down: a warning, still usable', async () => {
    await set.sentinels[2]!.kill();
    const sentinels = set.sentinelAddresses.map((s) => `${s.host}:${s.port}`).join(',');
    const report = await runDoctor({ env: { REDIS_SENTINELS: sentinels, REDIS_SENTINEL_MASTER_NAME: set.masterName }, connectTimeoutMs: 1000 } as never);
    assert.equal(report.exitCode, 0);
    assert.equal(stepOf(report, 'sentinels')?.status, 'warn');
    assert.match(stepOf(report, 'sentinels')!.detail, /^2\/3 sentinels answer/);
  });
});

describe('REDKIT_TEST_TOPOLOGY=sentinel', () => {
  test('startRedis gives a Sentinel set; kitFor reaches its master through the sentinels', async () => {
    const saved = process.env.REDKIT_TEST_TOPOLOGY;
    process.env.REDKIT_TEST_TOPOLOGY = 'sentinel';
    const server = await startRedis().finally(() => {
      if (saved === undefined) delete process.env.REDKIT_TEST_TOPOLOGY;
      else process.env.REDKIT_TEST_TOPOLOGY = saved;
    });
    try {
      assert.ok(server.sentinel);
      const kit = await kitFor(server);
      try {
        const health = await kit.health();
        assert.equal(health.status, 'connected');
        assert.equal(health.topology.kind, 'sentinel');
        assert.equal(health.topology.master, `127.0.0.1:${server.port}`);
      } finally {
        await kit.close();
      }
    } finally {
      await stopRedis(server);
    }
    assert.equal(liveTopologyProcesses(), 0, 'stopRedis stops the whole set');
  });
});

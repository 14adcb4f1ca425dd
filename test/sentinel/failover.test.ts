// Sentinel faults on a real set (1 master, 2 replicas, 3 sentinels): a graceful SENTINEL FAILOVER
// and a kill -9 of the master under a steady write load, then the old master restarted empty.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisReadOnlyError, RedkitError, type Redkit, type RedisRestartEvent, type RedisFailoverEvent } from '../../src/index.js';
import { startSentinelSet, type SentinelSet } from '../helpers/sentinel.js';
import { sleep, waitFor } from '../helpers/util.js';
import { sentinelKit, watchSwitch, watchWrites } from './helpers.js';

/** RPUSHes 0, 1, 2… every 10 ms through the shared client; keeps what was acknowledged and every error. */
function writer(kit: Redkit, key: string) {
  const acked: Array<{ value: number; sentAt: number }> = [];
  const errors: unknown[] = [];
  let running = true;
  let n = 0;
  const done = (async () => {
    while (running) {
      const value = n++;
      const sentAt = Date.now();
      kit.connection
        .run((c) => c.rpush(key, String(value)))
        .then(
          () => acked.push({ value, sentAt }),
          (err: unknown) => errors.push(err),
        );
      await sleep(10);
    }
    await sleep(600);
  })();
  return {
    acked,
    errors,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** LRANGE on one node, with a client closed at once. */
async function listOn(port: number, key: string): Promise<string[]> {
  const client = new Redis({ port, retryStrategy: () => null });
  try {
    return await client.lrange(key, 0, -1);
  } finally {
    client.disconnect();
  }
}

const readOnly = (errors: unknown[]) =>
  errors.filter(
    (e) =>
      e instanceof RedisReadOnlyError || /READONLY/.test(String((e as Error)?.message)) || /READONLY/.test(String(((e as Error)?.cause as Error)?.message)),
  );

describe('sentinel: failover under load', () => {
  let set: SentinelSet | undefined;
  after(async () => {
    await set?.stop();
  });

  test('SENTINEL FAILOVER: writes resume, 0 READONLY, nothing reaches the old master after +switch-master', async () => {
    set = await startSentinelSet();
    const kit = await sentinelKit(set);
    const restarts: RedisRestartEvent[] = [];
    const failovers: RedisFailoverEvent[] = [];
    kit.connection.on('restart', (e: RedisRestartEvent) => restarts.push(e));
    kit.connection.on('failover', (e: RedisFailoverEvent) => failovers.push(e));
    const worker = kit.worker('fo', async (job) => job.data);
    try {
      await worker.ready();
      await waitFor(() => kit.connection.serverId, 3000, 'server identity');
      const old = await set.currentMaster();
      assert.equal((await kit.health()).topology.master, `127.0.0.1:${old.port}`);
      const key = `${kit.connection.config.prefix}:fo:graceful`;
      const watch = await watchWrites(old.port, key);
      const sw = await watchSwitch(set);
      const w = writer(kit, key);
      await sleep(500);
      const promoted = await set.failover();
      const switchAt = sw.at() ?? Date.now();
      const resumed = await waitFor(() => w.acked.find((a) => a.sentAt >= switchAt), 10_000, 'a write sent after +switch-master acknowledged');
      await sleep(1000);
      await w.stop();
      watch.stop();
      sw.stop();
      const late = watch.writes.filter((x) => x.at > switchAt && !x.source.endsWith(`:${promoted.port}`));
      const onNew = new Set(await listOn(promoted.port, key));
      const lost = w.acked.filter((a) => !onNew.has(String(a.value)));
      console.log(
        `graceful failover: first write acknowledged ${Math.round(resumed.elapsedMs)} ms after +switch-master; ${w.acked.length} acked, ${lost.length} lost, ${w.errors.length} typed errors, ${late.length} writes on the old master after the switch`,
      );
      assert.equal(readOnly(w.errors).length, 0, 'no READONLY reaches a caller');
      assert.ok(
        w.errors.every((e) => e instanceof RedkitError),
        'every error is a typed RedkitError',
      );
      assert.equal(late.length, 0, `writes on the old master after +switch-master: ${JSON.stringify(late.slice(0, 3))}`);
      const health = await kit.health();
      assert.equal(health.status, 'connected');
      assert.deepEqual(
        { kind: health.topology.kind, master: health.topology.master, role: health.topology.role },
        { kind: 'sentinel', master: `127.0.0.1:${promoted.port}`, role: 'master' },
      );
      await waitFor(() => failovers.length > 0, 3000, 'a failover event');
      assert.equal(restarts.length, 0, 'a promoted replica is a failover, not a restart');
      assert.equal(health.lastRestartAt, null);
      // The worker follows the master without a restart.
      await kit.queue('fo').add('after', { n: 1 });
      await waitFor(async () => (await kit.queue('fo').counts()).completed >= 1, 10_000, 'the job added after the failover to complete');
    } finally {
      await worker.close();
      await kit.close();
      await set.stop();
    }
  });

  test('kill -9 of the master: writes resume within 10 s; the old master restarted empty gets nothing', async () => {
    set = await startSentinelSet();
    const kit = await sentinelKit(set);
    const worker = kit.worker('fo', async (job) => job.data);
    try {
      await worker.ready();
      const old = await set.currentMaster();
      const key = `${kit.connection.config.prefix}:fo:kill`;
      const w = writer(kit, key);
      await sleep(500);
      const killedAt = Date.now();
      await old.kill();
      const promoted = await set.waitForNewMaster(old.port, 20_000);
      const promotedAt = Date.now();
      const resumed = await waitFor(() => w.acked.find((a) => a.sentAt >= promotedAt), 10_000, 'a write sent after the promotion acknowledged');
      // The old master comes back empty and as a master (its arguments have no replicaof) until a
      // sentinel converts it (about 11 s here): redkit must never write there.
      await old.start();
      const admin = new Redis({ port: old.port, retryStrategy: () => 50 });
      admin.on('error', () => {});
      let polls = 0;
      let strayKeys = 0;
      let redkitClients = 0;
      try {
        const until = Date.now() + 12_000;
        while (Date.now() < until) {
          // One transaction: a sentinel may turn the node into a replica (and a sync fill it) between two commands.
          const [[, role], [, stray], [, clients]] = (await admin
            .multi()
            .call('ROLE')
            .keys(`${kit.connection.config.prefix}:*`)
            .call('CLIENT', 'LIST')
            .exec()) as [[null, string[]], [null, string[]], [null, string]];
          if (role[0] !== 'master') break;
          polls++;
          strayKeys += stray.length;
          redkitClients += String(clients)
            .split('\n')
            .filter((l) => / name=redkit:/.test(l)).length;
          await sleep(50);
        }
      } finally {
        admin.disconnect();
      }
      await w.stop();
      const onNew = new Set(await listOn(promoted.port, key));
      const lost = w.acked.filter((a) => !onNew.has(String(a.value)));
      console.log(
        `kill -9: promotion ${promotedAt - killedAt} ms after the kill, first write ${Math.round(resumed.elapsedMs)} ms after it; ${w.acked.length} acked, ${lost.length} lost, ${w.errors.length} typed errors; old master empty-and-master for ${polls} polls`,
      );
      assert.ok(polls > 0, 'the old master was seen restarted as an empty master');
      assert.equal(strayKeys, 0, 'no key written to the empty old master');
      assert.equal(redkitClients, 0, 'no redkit client on the empty old master');
      assert.equal(readOnly(w.errors).length, 0);
      assert.ok(w.errors.every((e) => e instanceof RedkitError));
      assert.equal((await kit.health()).status, 'connected');
      await kit.queue('fo').add('after', { n: 2 });
      await waitFor(async () => (await kit.queue('fo').counts()).completed >= 1, 10_000, 'the job added after the kill to complete');
    } finally {
      await worker.close();
      await kit.close();
      await set.stop();
    }
  });
});

// What the connection reports on a Sentinel set, and on wrong targets: a replica or a sentinel
// port given as a single server must never be `connected`.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRedkit, type Logger } from '../../src/index.js';
import { startSentinelSet, type SentinelSet } from '../helpers/sentinel.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';
import { sentinelKit } from './helpers.js';

const SENTINEL_PASSWORD = 'sentinel-secret-4f9a';

function recordingLogger(): Logger & { text: () => string } {
  const lines: string[] = [];
  const at = () => (obj: object, msg?: string) => {
    lines.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
  };
  return { text: () => lines.join('\n'), debug: at(), info: at(), warn: at(), error: at() };
}

const singleKit = (port: number) =>
  createRedkit({
    env: {},
    host: '127.0.0.1',
    port,
    keyPrefix: randomPrefix(),
    connectTimeoutMs: 2000,
    commandTimeoutMs: 500,
    healthIntervalMs: 200,
    logger: recordingLogger(),
    backoff: { baseMs: 20, maxMs: 200 },
  } as never);

describe('sentinel: connection and health', () => {
  let set: SentinelSet;
  before(async () => {
    set = await startSentinelSet({ sentinelPassword: SENTINEL_PASSWORD });
  });
  after(async () => {
    await set?.stop();
  });

  test('connects to the master the sentinels name; health shows the topology', async () => {
    const kit = await sentinelKit(set, { sentinelPassword: SENTINEL_PASSWORD } as never);
    try {
      const master = await set.currentMaster();
      const health = await kit.health();
      assert.equal(health.status, 'connected');
      assert.deepEqual(
        { ...health.topology, lastFailoverAt: null },
        { kind: 'sentinel', master: `127.0.0.1:${master.port}`, role: 'master', lastFailoverAt: null },
      );
      await kit.connection.run((c) => c.set(`${kit.connection.config.prefix}:x`, '1'));
      // BullMQ's and the subscriber's clients follow the master too.
      const sub = kit.connection.subscriber();
      const got: string[] = [];
      await sub.subscribe(`${kit.connection.config.prefix}:ch`, (message: string) => got.push(message));
      await kit.connection.run((c) => c.publish(`${kit.connection.config.prefix}:ch`, 'hi'));
      await waitFor(() => got.length === 1, 2000, 'a message through the subscriber');
    } finally {
      await kit.close();
    }
  });

  test("a sentinel client that ioredis leaves in 'end' is connected again", async () => {
    const kit = await sentinelKit(set, { sentinelPassword: SENTINEL_PASSWORD } as never);
    try {
      const client = kit.redis! as import('ioredis').Redis;
      // The end state the +switch-master race leaves: ioredis closes without reconnecting, as if
      // the close were asked for (manuallyClosing), while nobody called quit or disconnect.
      (client as unknown as { manuallyClosing: boolean }).manuallyClosing = true;
      client.stream.destroy();
      await waitFor(() => client.status === 'end', 2000, "the client in 'end'");
      await waitFor(async () => (await kit.health()).status === 'connected' && client.status === 'ready', 3000, 'connected again');
      await kit.connection.run((c) => c.set(`${kit.connection.config.prefix}:after-end`, '1'));
    } finally {
      await kit.close();
    }
  });

  test('a wrong sentinel password is a typed disconnected state that never shows the password', async () => {
    const logger = recordingLogger();
    const wrong = `${SENTINEL_PASSWORD}-wrong`;
    const kit = await sentinelKit(set, { sentinelPassword: wrong, logger, connectTimeoutMs: 800 } as never);
    try {
      const health = await kit.health();
      assert.equal(health.status, 'disconnected');
      const shown = JSON.stringify(health) + logger.text() + String(kit.connection.config) + JSON.stringify(kit.connection.config);
      assert.ok(!shown.includes(wrong), 'the sentinel password never appears');
      await assert.rejects(
        kit.connection.run((c) => c.ping()),
        (err: Error) => err.name === 'RedisUnavailableError' && !err.message.includes(wrong),
      );
    } finally {
      await kit.close();
    }
  });

  test('REDIS_URL at a replica: disconnected (WRONG_ROLE) with a fix, never connected', async () => {
    await set.refresh();
    const replica = set.dataNodes.find((n) => n.role === 'replica')!;
    const kit = await singleKit(replica.port);
    try {
      await sleep(600); // three probe periods: the probe must not turn it `connected`
      const health = await kit.health();
      assert.equal(health.status, 'disconnected');
      assert.equal(health.lastError?.reason, 'WRONG_ROLE');
      assert.match(health.message, /replica.*primary/);
      assert.equal(health.topology.role, 'replica');
      assert.equal(kit.mode, 'degraded');
    } finally {
      await kit.close();
    }
  });

  test('REDIS_URL at a sentinel port: disconnected (WRONG_ROLE), the fix names REDIS_SENTINELS', async () => {
    const unauthenticated = await startSentinelSet({ replicas: 1, sentinels: 1 });
    try {
      const kit = await singleKit(unauthenticated.sentinels[0]!.port);
      try {
        await sleep(600);
        const health = await kit.health();
        assert.equal(health.status, 'disconnected');
        assert.equal(health.lastError?.reason, 'WRONG_ROLE');
        assert.match(health.message, /Sentinel.*REDIS_SENTINELS/);
      } finally {
        await kit.close();
      }
    } finally {
      await unauthenticated.stop();
    }
  });

  test('a replica promoted by REPLICAOF NO ONE becomes connected without a restart', async () => {
    await set.refresh();
    const replica = set.dataNodes.find((n) => n.role === 'replica')!;
    const kit = await singleKit(replica.port);
    const { Redis } = await import('ioredis');
    const admin = new Redis({ port: replica.port });
    try {
      assert.equal((await kit.health()).status, 'disconnected');
      await admin.call('REPLICAOF', 'NO', 'ONE');
      await waitFor(async () => (await kit.health()).status === 'connected', 3000, 'connected once it is a master');
      assert.equal((await kit.health()).topology.role, 'master');
    } finally {
      admin.disconnect();
      await kit.close();
    }
  });
});

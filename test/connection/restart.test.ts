import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createRedkit, type Logger, type RedisRestartEvent } from '../../src/index.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { randomPrefix, waitFor } from '../helpers/util.js';

/** A logger that keeps every line with its level. */
function recordingLogger(): Logger & { lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  const at = (level: string) => (_obj: object, msg?: string) => {
    lines.push({ level, msg: msg ?? '' });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const restartWarns = (logger: ReturnType<typeof recordingLogger>) =>
  logger.lines.filter((l) => l.level === 'warn' && /Redis (restarted|lost its data)/.test(l.msg));

describe('connection: a restart that lost the data', () => {
  test('restart empty: one WARN, one restart event, lastRestartAt in health', async () => {
    const server = await startRedis();
    const logger = recordingLogger();
    const kit = await createRedkit({
      env: {},
      url: server.url,
      keyPrefix: randomPrefix(),
      commandTimeoutMs: 500,
      healthIntervalMs: 200,
      logger,
      backoff: { baseMs: 20, maxMs: 200 },
    } as never);
    try {
      await waitFor(() => kit.connection.serverId, 2000, 'server identity');
      const before = kit.connection.serverId;
      assert.equal((await kit.health()).lastRestartAt, null);
      const events: RedisRestartEvent[] = [];
      kit.connection.on('restart', (e: RedisRestartEvent) => events.push(e));
      await server.restart();
      await waitFor(() => events.length > 0, 3000, 'restart event');
      assert.equal(events[0]!.via, 'run_id');
      assert.equal(events[0]!.previousId, before);
      assert.notEqual(kit.connection.serverId, before);
      const health = await kit.health();
      assert.equal(health.status, 'connected');
      assert.equal(health.lastRestartAt, events[0]!.at);
      assert.equal(restartWarns(logger).length, 1);
      // A reconnect to the same server (a dropped connection) is not a restart.
      await kit.redis!.call('CLIENT', 'KILL', 'TYPE', 'normal');
      await waitFor(() => kit.mode === 'redis', 3000, 'reconnected');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(events.length, 1);
      assert.equal(restartWarns(logger).length, 1);
    } finally {
      await kit.close();
      await stopRedis(server);
    }
  });

  test('least-privilege ACL user (INFO refused): the marker key reveals the loss', async () => {
    const prefix = randomPrefix();
    const server = await startRedis({ password: 'admin-pw' });
    const createUser = async () => {
      const admin = new Redis({ host: server.host, port: server.port, password: 'admin-pw' });
      await admin.call('ACL', 'SETUSER', 'app', 'on', '>app-pw', `~${prefix}:*`, `&${prefix}:*`, '+@all', '-@dangerous');
      await admin.quit();
    };
    await createUser();
    const logger = recordingLogger();
    const kit = await createRedkit({
      env: {},
      host: server.host,
      port: server.port,
      username: 'app',
      password: 'app-pw',
      keyPrefix: prefix,
      commandTimeoutMs: 500,
      healthIntervalMs: 200,
      logger,
      backoff: { baseMs: 20, maxMs: 200 },
    } as never);
    try {
      await assert.rejects(kit.redis!.info('server'), /NOPERM/);
      await waitFor(() => kit.connection.serverId, 2000, 'marker identity');
      const events: RedisRestartEvent[] = [];
      kit.connection.on('restart', (e: RedisRestartEvent) => events.push(e));
      await server.restart();
      // The restarted server has no ACL user yet: create it again, as a config file would.
      await createUser();
      await waitFor(() => events.length > 0, 4000, 'restart event');
      assert.equal(events[0]!.via, 'marker');
      assert.ok((await kit.health()).lastRestartAt);
      assert.equal(restartWarns(logger).length, 1);
      assert.ok(!logger.lines.some((l) => l.level !== 'debug' && /NOPERM|INFO/.test(l.msg)), 'a refused INFO is not a warning');
    } finally {
      await kit.close();
      await stopRedis(server);
    }
  });
});

describe('connection: an evicting Redis', () => {
  test('maxmemory-policy allkeys-lru: one WARN at connect and a health warning; noeviction: none', async () => {
    const server = await startRedis();
    const admin = new Redis({ host: server.host, port: server.port });
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const logger = recordingLogger();
    const kit = await createRedkit({ env: {}, url: server.url, keyPrefix: randomPrefix(), commandTimeoutMs: 500, logger } as never);
    try {
      const { value: found } = await waitFor(
        async () => {
          const h = await kit.health();
          return h.warnings.length ? h : null;
        },
        2000,
        'health warning',
      );
      const health = found!;
      assert.equal(health.warnings[0]!.code, 'EVICTION_POLICY');
      assert.match(health.warnings[0]!.message, /allkeys-lru.*noeviction/);
      assert.equal(logger.lines.filter((l) => l.level === 'warn' && /maxmemory-policy/.test(l.msg)).length, 1);
      const report = await kit.healthReport();
      assert.equal(report.redis.warnings?.length, 1);

      const clean = await createRedkit({ env: {}, url: server.url, keyPrefix: randomPrefix(), logger: recordingLogger() } as never);
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      const quiet = await createRedkit({ env: {}, url: server.url, keyPrefix: randomPrefix(), logger: recordingLogger() } as never);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual((await quiet.health()).warnings, []);
      await Promise.all([clean.close(), quiet.close()]);
    } finally {
      await admin.quit();
      await kit.close();
      await stopRedis(server);
    }
  });
});

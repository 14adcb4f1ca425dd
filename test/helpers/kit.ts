import { createRedkit, silentLogger, type Redkit, type RedkitOptions } from '../../src/index.js';
import { before, after } from 'node:test';
import { startRedis, stopRedis, type RedisServer } from './redis-server.js';
import { randomPrefix } from './util.js';

/**
 * A toolkit connected to `server`, with a random key prefix, short timeouts, no logs, and an
 * empty env so the developer's REDIS_* variables never leak into a test.
 */
export function kitFor(server: RedisServer, options: RedkitOptions = {}): Promise<Redkit> {
  // REDKIT_TEST_TOPOLOGY=cluster / sentinel: the url is a redis+cluster:// or redis+sentinel:// URL.
  return createRedkit({
    url: server.url,
    tls: server.ca ? { ca: server.ca } : undefined,
    keyPrefix: randomPrefix(),
    connectTimeoutMs: 2000,
    commandTimeoutMs: 500,
    healthIntervalMs: 200,
    logger: silentLogger,
    env: {},
    backoff: { baseMs: 20, maxMs: 200 },
    ...options,
  } as Record<string, unknown> as RedkitOptions);
}

/** A standalone (in-memory) toolkit. */
export function standaloneKit(options: RedkitOptions = {}): Promise<Redkit> {
  return createRedkit({ env: {}, logger: silentLogger, keyPrefix: randomPrefix(), ...options });
}

/**
 * Registers before/after hooks that start a redis-server and a toolkit on it for the enclosing
 * file or describe block, and stop both at its end. Read `fixture.server` / `fixture.kit` in tests.
 */
export function useRedisKit(options: RedkitOptions = {}): { server: RedisServer; kit: Redkit } {
  const fixture = {} as { server: RedisServer; kit: Redkit };
  before(async () => {
    fixture.server = await startRedis();
    fixture.kit = await kitFor(fixture.server, options);
  });
  after(async () => {
    await fixture.kit?.close();
    if (fixture.server) await stopRedis(fixture.server);
  });
  return fixture;
}

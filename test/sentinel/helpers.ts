import { Redis } from 'ioredis';
import { createRedkit, silentLogger, type Redkit, type RedkitOptions } from '../../src/index.js';
import type { SentinelSet } from '../helpers/sentinel.js';
import { randomPrefix } from '../helpers/util.js';

/** A toolkit that finds its master through the set's sentinels, with the test timeouts of kitFor. */
export function sentinelKit(set: SentinelSet, options: RedkitOptions = {}): Promise<Redkit> {
  return createRedkit({
    sentinels: set.sentinelAddresses.map((s) => `${s.host}:${s.port}`).join(','),
    sentinelMasterName: set.masterName,
    keyPrefix: randomPrefix(),
    connectTimeoutMs: 2000,
    commandTimeoutMs: 500,
    healthIntervalMs: 200,
    logger: silentLogger,
    env: {},
    backoff: { baseMs: 20, maxMs: 200 },
    ...options,
  } as RedkitOptions);
}

/**
 * Records, from the moment it is called, every RPUSH to `key` that `port` executes, with the
 * sender's address and the local time: which writes reached a node, and when.
 */
export async function watchWrites(port: number, key: string): Promise<{ writes: Array<{ at: number; source: string; value: string }>; stop(): void }> {
  const writes: Array<{ at: number; source: string; value: string }> = [];
  const admin = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  admin.on('error', () => {
    /* the node may be killed under the watch */
  });
  await admin.connect();
  const monitor = await admin.monitor();
  monitor.on('error', () => {});
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (String(args[0]).toLowerCase() === 'rpush' && args[1] === key) writes.push({ at: Date.now(), source, value: String(args[2]) });
  });
  return {
    writes,
    stop: () => {
      monitor.disconnect();
      admin.disconnect();
    },
  };
}

/** Local time of the first `+switch-master` a sentinel publishes after this call. */
export async function watchSwitch(set: SentinelSet): Promise<{ at: () => number | null; stop(): void }> {
  let at: number | null = null;
  const s = set.sentinelAddresses[0]!;
  const sub = new Redis({ host: s.host, port: s.port, retryStrategy: () => null });
  sub.on('error', () => {});
  await sub.subscribe('+switch-master');
  sub.on('message', () => {
    at ??= Date.now();
  });
  return { at: () => at, stop: () => sub.disconnect() };
}

// SCAN over every server that holds data: every master of a Redis Cluster (each master SCANs only
// its own slots), or the one server of a single/Sentinel layout. For `clear`, `length`, listings.
import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from './cluster.js';

/** Options of `scanServers`. */
export interface ScanOptions {
  /** SCAN MATCH pattern. */
  pattern: string;
  /** SCAN COUNT hint. Default 1000. */
  count?: number;
}

/**
 * SCANs (never KEYS, which blocks a server on a big keyspace) every master of a cluster in
 * parallel, or the one server, calling `each` with every batch of matching keys. Keys of one
 * batch all live on one master but may span slots: a multi-key command on them must be split per
 * slot (slots.ts). Every master is scanned even when one fails; then the first failure is thrown.
 * A master whose connection is not ready fails at once instead of waiting in its offline queue.
 */
export async function scanServers(client: RedisClient, options: ScanOptions, each: (keys: string[]) => Promise<void>): Promise<void> {
  if (!isCluster(client)) return scanOne(client, options, each);
  const masters = client.nodes('master');
  if (masters.length === 0) throw new Error("Cluster isn't ready: no master in the slot map");
  const outcomes = await Promise.allSettled(
    masters.map((node) =>
      node.status === 'ready'
        ? scanOne(node, options, each)
        : Promise.reject(new Error(`Connection is closed: master ${node.options.host}:${node.options.port} is ${node.status}`)),
    ),
  );
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failure) throw failure.reason;
}

async function scanOne(server: Redis, options: ScanOptions, each: (keys: string[]) => Promise<void>): Promise<void> {
  const count = options.count ?? 1000;
  let cursor = '0';
  do {
    const [next, keys] = await server.scan(cursor, 'MATCH', options.pattern, 'COUNT', count);
    cursor = next;
    if (keys.length > 0) await each(keys);
  } while (cursor !== '0');
}

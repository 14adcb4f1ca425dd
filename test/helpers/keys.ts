import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from '../../src/connection/cluster.js';

/** Runs `fn` on every master of a cluster (a plain command reaches one random node), or on the one server. */
export function onEveryServer<T>(client: RedisClient, fn: (server: Redis) => Promise<T>): Promise<T[]> {
  return Promise.all((isCluster(client) ? client.nodes('master') : [client]).map(fn));
}

/** KEYS `pattern` on every master of a cluster, or on the one server; sorted. */
export async function keysEverywhere(client: RedisClient, pattern: string): Promise<string[]> {
  return (await onEveryServer(client, (server) => server.keys(pattern))).flat().sort();
}

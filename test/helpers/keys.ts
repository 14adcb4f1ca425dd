import { isCluster, type RedisClient } from '../../src/connection/cluster.js';

/** KEYS `pattern` on every master of a cluster (a plain KEYS reaches one random node), or on the one server; sorted. */
export async function keysEverywhere(client: RedisClient, pattern: string): Promise<string[]> {
  const servers = isCluster(client) ? client.nodes('master') : [client];
  return (await Promise.all(servers.map((server) => server.keys(pattern)))).flat().sort();
}

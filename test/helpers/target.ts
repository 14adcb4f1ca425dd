// Where a toolkit in another process (or built by hand) finds the test's Redis, whatever
// REDKIT_TEST_TOPOLOGY made it: a URL, a Cluster's seeds, or a Sentinel set.
import type { RedisServer } from './redis-server.js';

/** createRedkit options naming `server` (kitFor's target, without the test settings). */
export function targetOptions(server: RedisServer): { url?: string; clusterNodes?: string; sentinels?: string; sentinelMasterName?: string } {
  if (server.cluster) return { clusterNodes: server.cluster.seeds.map((s) => `${s.host}:${s.port}`).join(',') };
  if (server.sentinel)
    return { sentinels: server.sentinel.addresses.map((s) => `${s.host}:${s.port}`).join(','), sentinelMasterName: server.sentinel.masterName };
  return { url: server.url };
}

/**
 * Environment variables naming `server` for a child process. A Sentinel set is named by its
 * master's URL, as the fixtures always did (their own failover is not what they test).
 */
export function targetEnv(server: RedisServer): Record<string, string> {
  if (server.cluster) return { REDIS_CLUSTER_NODES: server.cluster.seeds.map((s) => `${s.host}:${s.port}`).join(',') };
  return { REDIS_URL: server.url };
}

/** In a fixture: createRedkit options from the variables `targetEnv` set (fixtures pass `env: {}`). */
export function targetFromEnv(env: NodeJS.ProcessEnv = process.env): { url?: string; clusterNodes?: string; username?: string; password?: string } {
  if (!env.REDIS_CLUSTER_NODES) return { url: env.REDIS_URL || undefined };
  return { clusterNodes: env.REDIS_CLUSTER_NODES, username: env.REDIS_USERNAME || undefined, password: env.REDIS_PASSWORD || undefined };
}

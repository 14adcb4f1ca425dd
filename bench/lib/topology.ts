// BENCH_TOPOLOGY=cluster: the benches run on a local Redis Cluster (3 masters, 3 replicas, the
// test helper's) instead of one redis-server. Every contender then gets a cluster client from the
// same redkit connection. A 2-core machine runs all six nodes: the numbers compare clients on one
// cluster; they say nothing of how a cluster scales with masters.
import type { RedkitOptions } from '../../src/index.js';
import { startRedis, type RedisServer } from '../../test/helpers/redis-server.js';

/** True when `BENCH_TOPOLOGY=cluster`. */
export const onCluster = process.env.BENCH_TOPOLOGY === 'cluster';

if (process.env.BENCH_TOPOLOGY !== undefined && process.env.BENCH_TOPOLOGY !== 'single' && !onCluster) {
  throw new Error(`BENCH_TOPOLOGY=${process.env.BENCH_TOPOLOGY}: use single (default) or cluster`);
}

/** Starts the bench's Redis: one redis-server, or a cluster under BENCH_TOPOLOGY=cluster. */
export function startBenchRedis(): Promise<RedisServer> {
  if (onCluster) process.env.REDKIT_TEST_TOPOLOGY = 'cluster';
  return startRedis();
}

/** redkit options that reach `server`: its URL, or every cluster node as seeds. */
export function targetOf(server: RedisServer): Pick<RedkitOptions, 'url'> & { clusterNodes?: string } {
  return server.cluster ? { clusterNodes: server.cluster.seeds.map((s) => `${s.host}:${s.port}`).join(',') } : { url: server.url };
}

/** `redis-server 6379` or `Redis Cluster 3 masters + 3 replicas (seed 7000)`, for bench headers. */
export function describeServer(server: RedisServer): string {
  return server.cluster ? `Redis Cluster 3 masters + 3 replicas (seed ${server.cluster.seeds[0]!.port})` : `redis-server ${server.port}`;
}

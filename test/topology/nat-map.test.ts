// REDIS_CLUSTER_NAT_MAP against a real cluster that announces addresses a client cannot reach,
// as a cluster in Docker or behind NAT does: the parsed map, handed to ioredis as `natMap`, is
// what makes every slot reachable.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from 'ioredis';
import { resolveConfig } from '../../src/internals.js';
import { startCluster, type RedisCluster } from '../helpers/cluster.js';
import { randomPrefix } from '../helpers/util.js';

// `.invalid` never resolves (RFC 2606): a client that dials the announced names fails.
const announced = (i: number) => `node-${i}.redkit.invalid`;

let cluster: RedisCluster;
after(() => cluster?.stop());

test('a cluster announcing unreachable hostnames is reached through REDIS_CLUSTER_NAT_MAP', async () => {
  cluster = await startCluster({
    masters: 3,
    replicasPerMaster: 0,
    nodeArgs: (i) => ['--cluster-announce-hostname', announced(i), '--cluster-preferred-endpoint-type', 'hostname'],
  });
  const natMap = cluster.nodes.map((n, i) => `127.0.0.1:${n.port}=${announced(i)}:${n.port}`).join(',');
  const config = resolveConfig({ env: { REDIS_CLUSTER_NODES: `127.0.0.1:${cluster.nodes[0]!.port}`, REDIS_CLUSTER_NAT_MAP: natMap } });
  assert.equal(config.topology, 'cluster');
  const keys = Array.from({ length: 30 }, (_, i) => `${randomPrefix('nat')}:${i}`);

  const mapped = new Cluster([...config.clusterNodes], { natMap: { ...config.clusterNatMap }, clusterRetryStrategy: () => null });
  try {
    await Promise.all(keys.map((k) => mapped.set(k, k)));
    assert.deepEqual(await Promise.all(keys.map((k) => mapped.get(k))), keys);
  } finally {
    mapped.disconnect();
  }

  // The control: the same seed without the map dials the announced names and cannot serve a call.
  const unmapped = new Cluster([...config.clusterNodes], { clusterRetryStrategy: () => null, redisOptions: { connectTimeout: 1000 } });
  unmapped.on('error', () => {
    /* expected: the announced names do not resolve */
  });
  try {
    await assert.rejects(Promise.all(keys.map((k) => unmapped.get(k))));
  } finally {
    unmapped.disconnect();
  }
});

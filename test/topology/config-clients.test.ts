// The resolved cluster and sentinel fields, handed to raw ioredis clients, reach real password-
// protected topologies: the config's shapes are the ones a client needs (the connection rework
// will do this hand-over in src/connection).
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, Redis } from 'ioredis';
import { resolveConfig } from '../../src/internals.js';
import { startCluster, type RedisCluster } from '../helpers/cluster.js';
import { startSentinelSet, type SentinelSet } from '../helpers/sentinel.js';
import { randomPrefix } from '../helpers/util.js';

const DATA_PASSWORD = 'data-pw-5xq';
const SENTINEL_PASSWORD = 'sent-pw-9kz';

describe('resolved config → raw ioredis client on a password-protected topology', () => {
  let cluster: RedisCluster | undefined;
  let set: SentinelSet | undefined;
  after(async () => {
    await cluster?.stop();
    await set?.stop();
  });

  test('REDIS_CLUSTER=true with a REDIS_URL seed carrying the password', async () => {
    cluster = await startCluster({ masters: 3, replicasPerMaster: 0, password: DATA_PASSWORD });
    const seed = cluster.nodes[1]!;
    const config = resolveConfig({ env: { REDIS_CLUSTER: 'true', REDIS_URL: `redis://:${DATA_PASSWORD}@127.0.0.1:${seed.port}` } });
    assert.equal(config.topology, 'cluster');
    const client = new Cluster([...config.clusterNodes], { redisOptions: { password: config.password }, clusterRetryStrategy: () => null });
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `${randomPrefix('cc')}:${i}`);
      await Promise.all(keys.map((k) => client.set(k, k)));
      assert.deepEqual(await Promise.all(keys.map((k) => client.get(k))), keys);
    } finally {
      client.disconnect();
    }
    await cluster.stop();
  });

  test('TLS cluster: REDIS_CLUSTER_NODES with REDIS_TLS, REDIS_PASSWORD and the CA as options.tls', async () => {
    const tlsCluster = await startCluster({ masters: 3, replicasPerMaster: 0, tls: true, password: DATA_PASSWORD });
    try {
      const nodes = tlsCluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
      const config = resolveConfig({ env: { REDIS_CLUSTER_NODES: nodes, REDIS_PASSWORD: DATA_PASSWORD, REDIS_TLS: 'true' }, tls: { ca: tlsCluster.ca } });
      assert.match(config.target, /^rediss\+cluster:\/\//);
      const client = new Cluster([...config.clusterNodes], {
        redisOptions: { password: config.password, tls: config.tls || undefined },
        clusterRetryStrategy: () => null,
      });
      try {
        const keys = Array.from({ length: 30 }, (_, i) => `${randomPrefix('ct')}:${i}`);
        await Promise.all(keys.map((k) => client.set(k, k)));
        assert.deepEqual(await Promise.all(keys.map((k) => client.get(k))), keys);
      } finally {
        client.disconnect();
      }
    } finally {
      await tlsCluster.stop();
    }
  });

  test('TLS sentinel set: rediss+sentinel:// makes TLS to the master and to the sentinels', async () => {
    const tlsSet = await startSentinelSet({ replicas: 1, sentinels: 3, masterName: 'tls-master', tls: true });
    try {
      const hosts = tlsSet.sentinelAddresses.map((s) => `${s.host}:${s.port}`).join(',');
      const config = resolveConfig({ env: { REDIS_URL: `rediss+sentinel://${hosts}/tls-master` }, tls: { ca: tlsSet.ca } });
      assert.deepEqual(config.sentinelTls, { ca: tlsSet.ca });
      const client = new Redis({
        sentinels: [...config.sentinels],
        name: config.sentinelMasterName!,
        tls: config.tls || undefined,
        enableTLSForSentinelMode: true,
        sentinelTLS: config.sentinelTls || undefined,
        sentinelRetryStrategy: () => null,
        retryStrategy: () => null,
      });
      try {
        await client.set('k', 'tls');
        assert.equal(await client.get('k'), 'tls');
      } finally {
        client.disconnect();
      }
    } finally {
      await tlsSet.stop();
    }
  });

  test('redis+sentinel:// URL with the master password, REDIS_SENTINEL_PASSWORD for the sentinels', async () => {
    set = await startSentinelSet({ replicas: 1, sentinels: 3, masterName: 'cfg-master', password: DATA_PASSWORD, sentinelPassword: SENTINEL_PASSWORD });
    const hosts = set.sentinelAddresses.map((s) => `${s.host}:${s.port}`).join(',');
    const env = { REDIS_URL: `redis+sentinel://:${DATA_PASSWORD}@${hosts}/cfg-master/1`, REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD };
    const config = resolveConfig({ env });
    assert.equal(config.topology, 'sentinel');
    const options = {
      sentinels: [...config.sentinels],
      name: config.sentinelMasterName!,
      password: config.password,
      db: config.db,
      sentinelRetryStrategy: () => null,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    };
    const client = new Redis({ ...options, sentinelPassword: config.sentinelPassword });
    try {
      await client.set('k', 'v');
      assert.equal(await client.get('k'), 'v');
      assert.equal((await set.currentMaster()).port, set.dataNodes[0]!.port);
    } finally {
      client.disconnect();
    }
    // The control: without the sentinels' password the same client cannot find the master.
    const noSentinelAuth = new Redis({ ...options, lazyConnect: true });
    noSentinelAuth.on('error', () => {
      /* expected */
    });
    try {
      await assert.rejects(noSentinelAuth.connect(), /NOAUTH/);
    } finally {
      noSentinelAuth.disconnect();
    }
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/index.js';
import { resolveConfig } from '../../src/internals.js';

test('a redis+cluster:// URL carries credentials and TLS for every node, and rejects a path', () => {
  const c = resolveConfig({ env: { REDIS_URL: 'rediss+cluster://app:p%40ss@n1:7000,n2:7001' } });
  assert.equal(c.topology, 'cluster');
  assert.equal(c.username, 'app');
  assert.equal(c.password, 'p@ss');
  assert.notEqual(c.tls, false);
  assert.doesNotMatch(c.target, /p@ss|p%40ss/);
  assert.throws(
    () => resolveConfig({ env: { REDIS_URL: 'redis+cluster://n1:7000/2' } }),
    (err: unknown) => err instanceof ConfigError && /REDIS_URL/.test((err as Error).message) && /cluster URL/.test((err as Error).message),
  );
  assert.throws(
    () => resolveConfig({ env: { REDIS_URL: 'redis+cluster://n1:7000', REDIS_CLUSTER_NODES: 'n9:7000' } }),
    (err: unknown) => err instanceof ConfigError && /different cluster nodes/.test((err as Error).message),
  );
});

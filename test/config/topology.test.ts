import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ConfigError, type RedkitConfig, type RedkitOptions } from '../../src/index.js';
import { maskUrl, resolveConfig } from '../../src/internals.js';

const SECRET = 'pa55-W0rd-x9';
const SENTINEL_SECRET = 's3nt-Pw-77q';

/** Every place a config or an error could leak either secret. */
function assertNoSecret(value: unknown): void {
  const texts = [String(value), inspect(value, { depth: 5 }), JSON.stringify(value) ?? '', (value as Error)?.stack ?? '', (value as Error)?.message ?? ''];
  for (const text of texts) {
    for (const secret of [SECRET, SENTINEL_SECRET]) assert.ok(!text.includes(secret), `secret leaked in: ${text.slice(0, 200)}`);
  }
}

function expectConfigError(options: RedkitOptions, variable: string, messagePart?: RegExp): void {
  let caught: unknown;
  try {
    resolveConfig(options);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected ConfigError, got ${String(caught)}`);
  assert.equal(caught.code, 'E_CONFIG');
  assert.equal(caught.variable, variable);
  assert.ok(caught.message.includes(variable.replace(/ \(.*\)$/, '')), `message names ${variable}: ${caught.message}`);
  if (messagePart) assert.match(caught.message, messagePart);
  assertNoSecret(caught);
}

const nodes = (c: RedkitConfig, field: 'clusterNodes' | 'sentinels') => c[field].map((n) => `${n.host}:${n.port}`);

describe('config topology: cluster', () => {
  const cases: Array<[string, RedkitOptions, string[], string]> = [
    [
      'REDIS_CLUSTER_NODES alone',
      { env: { REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001,10.0.0.3' } },
      ['10.0.0.1:7000', '10.0.0.2:7001', '10.0.0.3:6379'],
      'redis+cluster://10.0.0.1:7000,10.0.0.2:7001,10.0.0.3:6379',
    ],
    [
      'REDIS_CLUSTER=true with REDIS_URL as seed (ElastiCache configuration endpoint)',
      { env: { REDIS_CLUSTER: 'true', REDIS_URL: `rediss://default:${SECRET}@clustercfg.app.abc123.use1.cache.amazonaws.com:6379` } },
      ['clustercfg.app.abc123.use1.cache.amazonaws.com:6379'],
      'rediss+cluster://clustercfg.app.abc123.use1.cache.amazonaws.com:6379',
    ],
    [
      'REDIS_CLUSTER=true with REDIS_HOST/PORT as seed (Memorystore discovery endpoint)',
      { env: { REDIS_CLUSTER: '1', REDIS_HOST: '10.1.2.3', REDIS_PORT: '6378' } },
      ['10.1.2.3:6378'],
      'redis+cluster://10.1.2.3:6378',
    ],
    [
      'seed and node list are joined, duplicates dropped',
      { env: { REDIS_URL: 'redis://a:7000', REDIS_CLUSTER_NODES: 'a:7000,b:7001' } },
      ['a:7000', 'b:7001'],
      'redis+cluster://a:7000,b:7001',
    ],
    [
      'IPv6 nodes in brackets',
      { env: { REDIS_CLUSTER_NODES: '[::1]:7000,[fd00::2]:7001' } },
      ['::1:7000', 'fd00::2:7001'],
      'redis+cluster://[::1]:7000,[fd00::2]:7001',
    ],
    ['options.clusterNodes as an array', { env: {}, clusterNodes: ['h1:1', { host: 'h2', port: 2 }] }, ['h1:1', 'h2:2'], 'redis+cluster://h1:1,h2:2'],
    ['options.cluster with options.url', { env: {}, cluster: true, url: 'redis://seed:7000' }, ['seed:7000'], 'redis+cluster://seed:7000'],
    ['REDIS_URL=redis+cluster://', { env: { REDIS_URL: 'redis+cluster://a:7000,b' } }, ['a:7000', 'b:6379'], 'redis+cluster://a:7000,b:6379'],
    [
      'options.url=rediss+cluster:// (the printed target, pasted back)',
      { env: {}, url: 'rediss+cluster://a:7000,b:7001' },
      ['a:7000', 'b:7001'],
      'rediss+cluster://a:7000,b:7001',
    ],
    [
      'options.clusterNodes override env sentinels',
      { env: { REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER_NAME: 'm' }, clusterNodes: 'n1:7000' },
      ['n1:7000'],
      'redis+cluster://n1:7000',
    ],
  ];
  for (const [name, options, expected, target] of cases) {
    test(name, () => {
      const c = resolveConfig(options);
      assert.equal(c.topology, 'cluster');
      assert.equal(c.mode, 'redis');
      assert.deepEqual(nodes(c, 'clusterNodes'), expected);
      assert.equal(c.host, c.clusterNodes[0]!.host);
      assert.equal(c.port, c.clusterNodes[0]!.port);
      assert.equal(c.target, target);
      assert.equal(c.slotSafe, true);
      assert.deepEqual(c.sentinels, []);
      assertNoSecret(c);
    });
  }
  test('credentials and TLS come from the usual variables', () => {
    const c = resolveConfig({ env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_USERNAME: 'app', REDIS_PASSWORD: SECRET, REDIS_TLS: 'true' } });
    assert.equal(c.username, 'app');
    assert.equal(c.password, SECRET);
    assert.deepEqual(c.tls, {});
    assert.equal(c.sources.clusterNodes, 'REDIS_CLUSTER_NODES');
    assertNoSecret(c);
  });
  test('db 0 is accepted on a cluster', () => {
    assert.equal(resolveConfig({ env: { REDIS_CLUSTER: 'true', REDIS_URL: 'redis://h:1/0' } }).db, 0);
  });
  test("options.cluster=false overrides env's cluster with its NAT map", () => {
    const c = resolveConfig({ env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_CLUSTER_NAT_MAP: 'a:1=b:2', REDIS_HOST: 'h' }, cluster: false });
    assert.equal(c.topology, 'single');
    assert.equal(c.clusterNatMap, undefined);
    assert.equal(c.sources.clusterNatMap, undefined);
  });
  test('REDIS_CLUSTER=false is a single endpoint; options.cluster=false overrides env', () => {
    assert.equal(resolveConfig({ env: { REDIS_CLUSTER: 'false', REDIS_HOST: 'h' } }).topology, 'single');
    assert.equal(resolveConfig({ env: { REDIS_CLUSTER: 'true', REDIS_HOST: 'h' }, cluster: false }).topology, 'single');
    assert.equal(resolveConfig({ env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_HOST: 'h' }, cluster: false }).target, 'redis://h:6379/0');
  });
  test('NAT map, string form: reachable=announced, in Docker -p order', () => {
    const c = resolveConfig({
      env: { REDIS_CLUSTER_NODES: '127.0.0.1:7000', REDIS_CLUSTER_NAT_MAP: '127.0.0.1:7000=172.18.0.2:6379, 127.0.0.1:7001=172.18.0.3:6379' },
    });
    assert.deepEqual(c.clusterNatMap, { '172.18.0.2:6379': { host: '127.0.0.1', port: 7000 }, '172.18.0.3:6379': { host: '127.0.0.1', port: 7001 } });
  });
  test('NAT map, JSON form in the ioredis natMap shape, and as an option object', () => {
    const json = '{"10.0.0.5:6379":{"host":"203.0.113.9","port":30001}}';
    assert.deepEqual(resolveConfig({ env: { REDIS_CLUSTER: 'true', REDIS_HOST: 'h', REDIS_CLUSTER_NAT_MAP: json } }).clusterNatMap, {
      '10.0.0.5:6379': { host: '203.0.113.9', port: 30001 },
    });
    assert.deepEqual(resolveConfig({ env: {}, clusterNodes: 'h:1', clusterNatMap: { '10.0.0.5:6379': { host: 'ext', port: 1 } } }).clusterNatMap, {
      '10.0.0.5:6379': { host: 'ext', port: 1 },
    });
  });
  test('standalone: true wins over a cluster', () => {
    const c = resolveConfig({ env: { REDIS_CLUSTER_NODES: 'a:1' }, standalone: true });
    assert.equal(c.topology, 'memory');
    assert.equal(c.mode, 'standalone');
    assert.deepEqual(c.clusterNodes, []);
  });
});

describe('config topology: sentinel', () => {
  const cases: Array<[string, RedkitOptions, string[], string, number, string]> = [
    [
      'REDIS_SENTINELS with default port',
      { env: { REDIS_SENTINELS: 's1,s2:26380,10.0.0.3', REDIS_SENTINEL_MASTER_NAME: 'mymaster' } },
      ['s1:26379', 's2:26380', '10.0.0.3:26379'],
      'mymaster',
      0,
      'redis+sentinel://s1:26379,s2:26380,10.0.0.3:26379/mymaster/0',
    ],
    [
      'redis+sentinel:// URL with credentials, master and db',
      { env: { REDIS_URL: `redis+sentinel://app:${SECRET}@s1:26379,s2,s3:5000/cache-master/2` } },
      ['s1:26379', 's2:26379', 's3:5000'],
      'cache-master',
      2,
      'redis+sentinel://s1:26379,s2:26379,s3:5000/cache-master/2',
    ],
    ['rediss+sentinel:// turns TLS on', { env: { REDIS_URL: `rediss+sentinel://:${SECRET}@s1/m` } }, ['s1:26379'], 'm', 0, 'rediss+sentinel://s1:26379/m/0'],
    [
      'URL master name with REDIS_SENTINEL_MASTER_NAME agreeing',
      { env: { REDIS_URL: 'redis+sentinel://s1/m', REDIS_SENTINEL_MASTER_NAME: 'm', REDIS_SENTINELS: 's1:26379' } },
      ['s1:26379'],
      'm',
      0,
      'redis+sentinel://s1:26379/m/0',
    ],
    [
      'URL without master name, REDIS_SENTINEL_MASTER_NAME fills it',
      { env: { REDIS_URL: 'redis+sentinel://s1,s2', REDIS_SENTINEL_MASTER_NAME: 'm' } },
      ['s1:26379', 's2:26379'],
      'm',
      0,
      'redis+sentinel://s1:26379,s2:26379/m/0',
    ],
    [
      'options.sentinels and options.sentinelMasterName',
      { env: {}, sentinels: ['a:1', { host: 'b', port: 2 }], sentinelMasterName: 'm', db: 3 },
      ['a:1', 'b:2'],
      'm',
      3,
      'redis+sentinel://a:1,b:2/m/3',
    ],
    [
      'options.url sentinel overrides a plain REDIS_URL',
      { env: { REDIS_URL: 'redis://h:1' }, url: 'redis+sentinel://s9/m9' },
      ['s9:26379'],
      'm9',
      0,
      'redis+sentinel://s9:26379/m9/0',
    ],
    [
      'options.sentinels override REDIS_HOST',
      { env: { REDIS_HOST: 'h', REDIS_PORT: '1' }, sentinels: 's1', sentinelMasterName: 'm' },
      ['s1:26379'],
      'm',
      0,
      'redis+sentinel://s1:26379/m/0',
    ],
    [
      'options.sentinels override REDIS_CLUSTER',
      { env: { REDIS_CLUSTER: 'true' }, sentinels: 's1', sentinelMasterName: 'm' },
      ['s1:26379'],
      'm',
      0,
      'redis+sentinel://s1:26379/m/0',
    ],
  ];
  for (const [name, options, expected, master, db, target] of cases) {
    test(name, () => {
      const c = resolveConfig(options);
      assert.equal(c.topology, 'sentinel');
      assert.equal(c.mode, 'redis');
      assert.deepEqual(nodes(c, 'sentinels'), expected);
      assert.equal(c.sentinelMasterName, master);
      assert.equal(c.db, db);
      assert.equal(c.host, undefined, 'the sentinels name the master');
      assert.equal(c.target, target);
      assert.deepEqual(c.clusterNodes, []);
      assert.equal(c.slotSafe, 'auto');
      assertNoSecret(c);
    });
  }
  test("URL credentials are the master's; sentinel credentials come from their own variables", () => {
    const c = resolveConfig({
      env: { REDIS_URL: `redis+sentinel://app:${SECRET}@s1/m`, REDIS_SENTINEL_USERNAME: 'sentinel-user', REDIS_SENTINEL_PASSWORD: SENTINEL_SECRET },
    });
    assert.equal(c.username, 'app');
    assert.equal(c.password, SECRET);
    assert.equal(c.sentinelUsername, 'sentinel-user');
    assert.equal(c.sentinelPassword, SENTINEL_SECRET);
    assert.equal(c.sources.sentinelPassword, 'REDIS_SENTINEL_PASSWORD');
    assert.equal(c.sources.sentinelMasterName, 'REDIS_URL');
    assert.equal(c.sources.sentinels, 'REDIS_URL');
  });
  test('an unencoded @ in the URL password: the host list starts after the last @', () => {
    const c = resolveConfig({ env: { REDIS_URL: `redis+sentinel://:${SECRET}@x@s1/m` } });
    assert.equal(c.password, `${SECRET}@x`);
    assert.deepEqual(nodes(c, 'sentinels'), ['s1:26379']);
    assertNoSecret(c);
  });
  test('maskUrl hides the credentials of a sentinel URL, an unencoded @ included', () => {
    for (const url of [`redis+sentinel://app:${SECRET}@s1:1,s2:2/m`, `redis+sentinel://:${SECRET}@x@s1:1,s2:2/m`, `rediss+sentinel://app:${SECRET}@s1/m/1`]) {
      const masked = maskUrl(url);
      assert.ok(!masked.includes(SECRET) && !masked.includes('@x@'), masked);
      assert.match(masked, /\*\*\*@s1/);
    }
  });
  test('the sentinel password is masked in toString, JSON, inspect, spread and keys', () => {
    const c = resolveConfig({
      env: { REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER_NAME: 'm', REDIS_PASSWORD: SECRET, REDIS_SENTINEL_PASSWORD: SENTINEL_SECRET },
    });
    assertNoSecret(c);
    assert.match(JSON.stringify(c), /"sentinelPassword":"\*\*\*"/);
    assert.ok(!JSON.stringify({ ...c }).includes(SENTINEL_SECRET));
    assert.ok(!Object.keys(c).includes('sentinelPassword'));
    assert.ok(Object.isFrozen(c));
  });
  test('sentinel TLS follows the data TLS unless REDIS_SENTINEL_TLS says otherwise', () => {
    assert.deepEqual(resolveConfig({ env: { REDIS_URL: 'rediss+sentinel://s1/m' } }).sentinelTls, {});
    assert.equal(resolveConfig({ env: { REDIS_URL: 'rediss+sentinel://s1/m', REDIS_SENTINEL_TLS: 'false' } }).sentinelTls, false);
    assert.deepEqual(resolveConfig({ env: { REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER_NAME: 'm', REDIS_SENTINEL_TLS: 'true' } }).sentinelTls, {});
    assert.equal(resolveConfig({ env: { REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER_NAME: 'm' } }).sentinelTls, false);
    assert.deepEqual(resolveConfig({ env: {}, sentinels: 's1', sentinelMasterName: 'm', sentinelTls: { ca: 'PEM' } }).sentinelTls, { ca: 'PEM' });
  });
  test('a single endpoint has no sentinel fields and keeps its old target', () => {
    const c = resolveConfig({ env: { REDIS_URL: 'redis://h:1/2', REDIS_SENTINEL_PASSWORD: SENTINEL_SECRET } });
    assert.equal(c.topology, 'single');
    assert.equal(c.target, 'redis://h:1/2');
    assert.equal(c.sentinelPassword, undefined);
    assert.equal(c.sources.sentinelPassword, undefined, 'an unused variable is not reported as a source');
    assert.deepEqual(c.sentinels, []);
    assert.equal(resolveConfig({ env: {} }).topology, 'memory');
  });
});

describe('config topology: slot-safe layout', () => {
  const cases: Array<[string, RedkitOptions, boolean | 'auto']> = [
    ['default auto', { env: { REDIS_HOST: 'h' } }, 'auto'],
    ['REDIS_SLOT_SAFE=true behind a proxy', { env: { REDIS_HOST: 'h', REDIS_SLOT_SAFE: 'true' } }, true],
    ['REDIS_SLOT_SAFE=false', { env: { REDIS_HOST: 'h', REDIS_SLOT_SAFE: 'off' } }, false],
    ['REDIS_SLOT_SAFE=AUTO', { env: { REDIS_HOST: 'h', REDIS_SLOT_SAFE: 'AUTO' } }, 'auto'],
    ['options.slotSafe overrides env', { env: { REDIS_HOST: 'h', REDIS_SLOT_SAFE: 'true' }, slotSafe: 'auto' }, 'auto'],
    ['always on for a cluster', { env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_SLOT_SAFE: 'auto' } }, true],
  ];
  for (const [name, options, expected] of cases) test(name, () => assert.equal(resolveConfig(options).slotSafe, expected));
});

describe('config topology: bad input → ConfigError naming the variables, never a password', () => {
  const bad: Array<[string, RedkitOptions, string, RegExp?]> = [
    [
      'cluster and sentinel together',
      { env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER_NAME: 'm' } },
      'REDIS_SENTINELS',
      /REDIS_CLUSTER_NODES.*REDIS_SENTINELS.*either/,
    ],
    [
      'REDIS_CLUSTER=true and a sentinel URL',
      { env: { REDIS_CLUSTER: 'true', REDIS_URL: `redis+sentinel://:${SECRET}@s1/m` } },
      'REDIS_URL',
      /REDIS_CLUSTER and REDIS_URL/,
    ],
    ['options cluster and sentinels together', { env: {}, cluster: true, url: 'redis://h:1', sentinels: 's1' }, 'options.sentinels', /options\.cluster/],
    ['REDIS_CLUSTER=false with nodes', { env: { REDIS_CLUSTER: 'false', REDIS_CLUSTER_NODES: 'a:1' } }, 'REDIS_CLUSTER_NODES', /REDIS_CLUSTER is false/],
    ['db 3 on a cluster from the URL', { env: { REDIS_CLUSTER: 'true', REDIS_URL: `redis://:${SECRET}@h:1/3` } }, 'REDIS_URL', /database 3.*database 0 only/],
    ['db 1 on a cluster from REDIS_DB', { env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_DB: '1' } }, 'REDIS_DB', /Redis Cluster/],
    ['db on a cluster from options', { env: { REDIS_CLUSTER_NODES: 'a:1' }, db: 2 }, 'options.db'],
    ['REDIS_CLUSTER=true without a seed', { env: { REDIS_CLUSTER: 'true', REDIS_PASSWORD: SECRET } }, 'REDIS_CLUSTER', /configuration \(discovery\) endpoint/],
    ['REDIS_PORT with node list but no host', { env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_PORT: '7000' } }, 'REDIS_PORT', /each node/],
    ['REDIS_SLOT_SAFE=false on a cluster', { env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_SLOT_SAFE: 'false' } }, 'REDIS_SLOT_SAFE', /one slot/],
    ['REDIS_SLOT_SAFE not a setting', { env: { REDIS_HOST: 'h', REDIS_SLOT_SAFE: 'sometimes' } }, 'REDIS_SLOT_SAFE', /true, false or auto/],
    ['REDIS_CLUSTER not boolean', { env: { REDIS_CLUSTER: 'maybe', REDIS_HOST: 'h' } }, 'REDIS_CLUSTER', /true or false/],
    ['node list with an empty entry', { env: { REDIS_CLUSTER_NODES: 'a:1,,b:2' } }, 'REDIS_CLUSTER_NODES', /empty entry 2/],
    ['node list with a trailing comma', { env: { REDIS_CLUSTER_NODES: 'a:1,' } }, 'REDIS_CLUSTER_NODES', /empty entry 2/],
    ['node list with a bad port', { env: { REDIS_CLUSTER_NODES: 'a:1,b:99999' } }, 'REDIS_CLUSTER_NODES', /1 to 65535/],
    ['node list with a non-numeric port', { env: { REDIS_CLUSTER_NODES: 'a:x' } }, 'REDIS_CLUSTER_NODES'],
    ['node list with a scheme', { env: { REDIS_CLUSTER_NODES: 'redis://a:1' } }, 'REDIS_CLUSTER_NODES', /not host\[:port\]/],
    ['node list with a URL and its password pasted in', { env: { REDIS_CLUSTER_NODES: `a:1,redis://:${SECRET}@b:2` } }, 'REDIS_CLUSTER_NODES', /entry 2/],
    [
      'sentinel list with a password pasted in',
      { env: { REDIS_SENTINELS: `s1,:${SECRET}@s2:26379`, REDIS_SENTINEL_MASTER_NAME: 'm' } },
      'REDIS_SENTINELS',
      /entry 2/,
    ],
    [
      'NAT map with a URL and its password pasted in',
      { env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_CLUSTER_NAT_MAP: `redis://:${SECRET}@a:1` } },
      'REDIS_CLUSTER_NAT_MAP',
      /entry 1/,
    ],
    ['node list with bare IPv6', { env: { REDIS_CLUSTER_NODES: '::1:7000' } }, 'REDIS_CLUSTER_NODES', /brackets/],
    ['node list separated by spaces only', { env: { REDIS_CLUSTER_NODES: 'a:1 b:2' } }, 'REDIS_CLUSTER_NODES'],
    ['options.clusterNodes empty array', { env: {}, clusterNodes: [] }, 'options.clusterNodes', /empty/],
    ['options.clusterNodes wrong type', { env: {}, clusterNodes: 7 as unknown as string }, 'options.clusterNodes'],
    ['sentinels without a master name', { env: { REDIS_SENTINELS: 's1,s2' } }, 'REDIS_SENTINEL_MASTER_NAME', /REDIS_SENTINELS.*master name/],
    ['sentinel URL without a master name', { env: { REDIS_URL: `redis+sentinel://:${SECRET}@s1,s2` } }, 'REDIS_SENTINEL_MASTER_NAME'],
    ['options.sentinels without a master name', { env: {}, sentinels: 's1' }, 'options.sentinelMasterName'],
    ['master name without sentinels', { env: { REDIS_HOST: 'h', REDIS_SENTINEL_MASTER_NAME: 'm' } }, 'REDIS_SENTINEL_MASTER_NAME', /no sentinels/],
    ['bad master name', { env: { REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER_NAME: 'my master' } }, 'REDIS_SENTINEL_MASTER_NAME'],
    [
      'sentinels with REDIS_HOST',
      { env: { REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER_NAME: 'm', REDIS_HOST: 'h' } },
      'REDIS_HOST',
      /sentinels name the master/,
    ],
    [
      'sentinels with a plain REDIS_URL',
      { env: { REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER_NAME: 'm', REDIS_URL: `redis://:${SECRET}@h:1` } },
      'REDIS_URL',
      /REDIS_SENTINELS/,
    ],
    ['env sentinels with options.host', { env: { REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER_NAME: 'm' }, host: 'h' }, 'options.host', /REDIS_SENTINELS/],
    ['sentinels with REDIS_PORT', { env: { REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER_NAME: 'm', REDIS_PORT: '6379' } }, 'REDIS_PORT'],
    ['sentinel list malformed', { env: { REDIS_SENTINELS: 's1:26379;s2:26379', REDIS_SENTINEL_MASTER_NAME: 'm' } }, 'REDIS_SENTINELS'],
    [
      'sentinel URL and REDIS_SENTINELS disagree',
      { env: { REDIS_URL: 'redis+sentinel://s1/m', REDIS_SENTINELS: 's2' } },
      'REDIS_SENTINELS',
      /different sentinels/,
    ],
    [
      'sentinel URL and master name disagree',
      { env: { REDIS_URL: 'redis+sentinel://s1/m', REDIS_SENTINEL_MASTER_NAME: 'other' } },
      'REDIS_SENTINEL_MASTER_NAME',
      /disagree/,
    ],
    [
      'sentinel URL with a bad port, password not echoed',
      { env: { REDIS_URL: `redis+sentinel://:${SECRET}@s1:99999/m` } },
      'REDIS_URL (sentinels)',
      /1 to 65535/,
    ],
    ['sentinel URL with a query', { env: { REDIS_URL: `redis+sentinel://:${SECRET}@s1/m?x=1` } }, 'REDIS_URL', /no query/],
    ['sentinel URL without hosts', { env: { REDIS_URL: `redis+sentinel://:${SECRET}@/m` } }, 'REDIS_URL', /no sentinel/],
    ['sentinel URL with a bad db', { env: { REDIS_URL: `redis+sentinel://:${SECRET}@s1/m/x` } }, 'REDIS_URL (database path)'],
    ['sentinel URL with a bad escape in the password', { env: { REDIS_URL: `redis+sentinel://:${SECRET}%zz@s1/m` } }, 'REDIS_URL', /percent-escape/],
    [
      'redis+sentinel:// with REDIS_TLS=true',
      { env: { REDIS_URL: `redis+sentinel://:${SECRET}@s1/m`, REDIS_TLS: 'true' } },
      'REDIS_TLS',
      /redis\+sentinel:\/\//,
    ],
    ['REDIS_SENTINEL_TLS not boolean', { env: { REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER_NAME: 'm', REDIS_SENTINEL_TLS: 'sure' } }, 'REDIS_SENTINEL_TLS'],
    ['NAT map without a cluster', { env: { REDIS_HOST: 'h', REDIS_CLUSTER_NAT_MAP: 'a:1=b:2' } }, 'REDIS_CLUSTER_NAT_MAP', /Redis Cluster only/],
    ['NAT map entry without "="', { env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_CLUSTER_NAT_MAP: 'a:1>b:2' } }, 'REDIS_CLUSTER_NAT_MAP', /reachable=announced/],
    [
      'NAT map entry without a port',
      { env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_CLUSTER_NAT_MAP: 'a=b:2' } },
      'REDIS_CLUSTER_NAT_MAP',
      /port on the reachable side/,
    ],
    ['NAT map maps an address twice', { env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_CLUSTER_NAT_MAP: 'a:1=b:2,a:3=b:2' } }, 'REDIS_CLUSTER_NAT_MAP', /twice/],
    ['NAT map JSON broken', { env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_CLUSTER_NAT_MAP: '{"b:2":' } }, 'REDIS_CLUSTER_NAT_MAP', /not valid JSON/],
    ['NAT map JSON wrong shape', { env: { REDIS_CLUSTER_NODES: 'a:1', REDIS_CLUSTER_NAT_MAP: '{"b:2":"a:1"}' } }, 'REDIS_CLUSTER_NAT_MAP', /\{ "host"/],
    ['brace in the key prefix', { env: { REDIS_KEY_PREFIX: '{app}' } }, 'REDIS_KEY_PREFIX', /hash tags/],
    ['brace in the environment', { env: { REDIS_ENVIRONMENT: 'prod}' } }, 'REDIS_ENVIRONMENT', /hash tags/],
    ['brace in options.keyPrefix', { env: {}, keyPrefix: 'a{b' }, 'options.keyPrefix', /hash tags/],
  ];
  for (const [name, options, variable, part] of bad) {
    test(name, () => expectConfigError(options, variable, part));
  }
  test('a sentinel password never appears in an error about another variable', () => {
    expectConfigError({ env: { REDIS_SENTINELS: 's1', REDIS_SENTINEL_PASSWORD: SENTINEL_SECRET } }, 'REDIS_SENTINEL_MASTER_NAME');
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type RedkitOptions } from '../../src/index.js';
import { resolveConfig } from '../../src/internals.js';

const SECRET = 'pa55-W0rd-x9';

/** Every place a config or an error could leak the secret. */
function assertNoSecret(value: unknown): void {
  const texts = [String(value), inspect(value, { depth: 5 }), JSON.stringify(value) ?? '', (value as Error)?.stack ?? '', (value as Error)?.message ?? ''];
  for (const text of texts) assert.ok(!text.includes(SECRET), `secret leaked in: ${text.slice(0, 200)}`);
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
  assert.equal(caught.name, 'ConfigError');
  assert.equal(caught.variable, variable);
  assert.ok(caught.message.includes(variable.replace(/ \(.*\)$/, '')), `message names ${variable}: ${caught.message}`);
  if (messagePart) assert.match(caught.message, messagePart);
  assertNoSecret(caught);
}

describe('config: valid input', () => {
  test('no Redis configured → standalone', () => {
    const c = resolveConfig({ env: {} });
    assert.equal(c.mode, 'standalone');
    assert.equal(c.host, undefined);
    assert.equal(c.target, 'standalone');
  });
  test('empty env values count as unset (dotenv style)', () => {
    const c = resolveConfig({ env: { REDIS_HOST: '', REDIS_PASSWORD: '', REDIS_USERNAME: '', REDIS_URL: '' } });
    assert.equal(c.mode, 'standalone');
  });
  test('REDIS_URL with user, password, port and db', () => {
    const c = resolveConfig({ env: { REDIS_URL: `redis://default:${SECRET}@redis.railway.internal:6380/3` } });
    assert.equal(c.mode, 'redis');
    assert.equal(c.host, 'redis.railway.internal');
    assert.equal(c.port, 6380);
    assert.equal(c.username, 'default');
    assert.equal(c.password, SECRET);
    assert.equal(c.db, 3);
    assert.equal(c.tls, false);
    assertNoSecret(c);
  });
  test('rediss:// turns TLS on', () => {
    const c = resolveConfig({ env: { REDIS_URL: `rediss://default:${SECRET}@xxx.upstash.io:6379` } });
    assert.deepEqual(c.tls, {});
    assert.match(c.target, /^rediss:\/\//);
  });
  test('URL with only a password (Memorystore style)', () => {
    const c = resolveConfig({ env: { REDIS_URL: `redis://:${SECRET}@10.0.0.3:6379` } });
    assert.equal(c.username, undefined);
    assert.equal(c.password, SECRET);
  });
  test('percent-encoded password is decoded', () => {
    const c = resolveConfig({ env: { REDIS_URL: `redis://:${encodeURIComponent('p@ss/w:rd')}@h:1` } });
    assert.equal(c.password, 'p@ss/w:rd');
  });
  test('IPv6 host in URL', () => {
    const c = resolveConfig({ env: { REDIS_URL: 'redis://[::1]:6379' } });
    assert.equal(c.host, '::1');
  });
  test('discrete variables', () => {
    const c = resolveConfig({
      env: { REDIS_HOST: 'localhost', REDIS_PORT: '6390', REDIS_USERNAME: 'app', REDIS_PASSWORD: SECRET, REDIS_TLS: 'true', REDIS_DB: '2' },
    });
    assert.equal(c.host, 'localhost');
    assert.equal(c.port, 6390);
    assert.equal(c.username, 'app');
    assert.deepEqual(c.tls, {});
    assert.equal(c.db, 2);
    assert.equal(c.sources.host, 'REDIS_HOST');
  });
  test('default port 6379 and db 0', () => {
    const c = resolveConfig({ env: { REDIS_HOST: 'h' } });
    assert.equal(c.port, 6379);
    assert.equal(c.db, 0);
  });
  test('REDIS_TLS accepts 1/0/yes/no', () => {
    assert.deepEqual(resolveConfig({ env: { REDIS_HOST: 'h', REDIS_TLS: 'YES' } }).tls, {});
    assert.equal(resolveConfig({ env: { REDIS_HOST: 'h', REDIS_TLS: '0' } }).tls, false);
  });
  test('REDIS_URL without password + REDIS_PASSWORD fills the gap', () => {
    const c = resolveConfig({ env: { REDIS_URL: 'redis://h:1', REDIS_PASSWORD: SECRET } });
    assert.equal(c.password, SECRET);
    assert.equal(c.sources.password, 'REDIS_PASSWORD');
  });
  test('REDIS_URL and an agreeing REDIS_HOST', () => {
    const c = resolveConfig({ env: { REDIS_URL: 'redis://h:1', REDIS_HOST: 'h' } });
    assert.equal(c.host, 'h');
  });
  test('rediss:// with REDIS_TLS=true agrees', () => {
    assert.deepEqual(resolveConfig({ env: { REDIS_URL: 'rediss://h:1', REDIS_TLS: 'true' } }).tls, {});
  });
  test('options override env field by field', () => {
    const c = resolveConfig({ env: { REDIS_URL: `redis://:${SECRET}@envhost:1/1` }, host: 'codehost', db: 5 });
    assert.equal(c.host, 'codehost');
    assert.equal(c.port, 1);
    assert.equal(c.db, 5);
    assert.equal(c.password, SECRET);
    assert.equal(c.sources.host, 'options.host');
    assert.equal(c.sources.port, 'REDIS_URL');
  });
  test('options.url overrides REDIS_URL', () => {
    const c = resolveConfig({ env: { REDIS_URL: 'redis://envhost:1' }, url: 'redis://codehost:2' });
    assert.equal(c.host, 'codehost');
    assert.equal(c.port, 2);
  });
  test('options.tls false overrides rediss:// from env (code wins)', () => {
    assert.equal(resolveConfig({ env: { REDIS_URL: 'rediss://h:1' }, tls: false }).tls, false);
  });
  test('options.tls object is kept (CA)', () => {
    const c = resolveConfig({ env: {}, host: 'h', tls: { ca: 'PEM' } });
    assert.deepEqual(c.tls, { ca: 'PEM' });
  });
  test('REDIS_ENVIRONMENT becomes part of the prefix', () => {
    assert.equal(resolveConfig({ env: { REDIS_ENVIRONMENT: 'staging' } }).prefix, 'redkit:staging');
    assert.equal(resolveConfig({ env: { REDIS_ENVIRONMENT: 'staging' }, environment: 'prod', keyPrefix: 'app' }).prefix, 'app:prod');
    assert.equal(resolveConfig({ env: {} }).prefix, 'redkit');
  });
  test('timeouts from env and options', () => {
    const c = resolveConfig({ env: { REDIS_CONNECT_TIMEOUT_MS: '1234', REDIS_COMMAND_TIMEOUT_MS: '99' } });
    assert.equal(c.connectTimeoutMs, 1234);
    assert.equal(c.commandTimeoutMs, 99);
    assert.equal(resolveConfig({ env: {}, connectTimeoutMs: 10 }).connectTimeoutMs, 10);
    assert.equal(resolveConfig({ env: {} }).connectTimeoutMs, 5000);
  });
  test('standalone: true forces standalone even with Redis env', () => {
    assert.equal(resolveConfig({ env: { REDIS_URL: 'redis://h:1' }, standalone: true }).mode, 'standalone');
  });
  test('INSTANCE_ID and a default instance id', () => {
    assert.equal(resolveConfig({ env: { INSTANCE_ID: 'api-1' } }).instanceId, 'api-1');
    assert.match(resolveConfig({ env: {} }).instanceId, /-\d+-[0-9a-f]{4}$/);
  });
  test('REDIS_TLS_CA_FILE reads the CA', () => {
    const dir = mkdtempSync(join(tmpdir(), 'redkit-cfg-'));
    writeFileSync(join(dir, 'ca.pem'), 'PEMDATA');
    const c = resolveConfig({ env: { REDIS_URL: 'rediss://h:1', REDIS_TLS_CA_FILE: join(dir, 'ca.pem') } });
    assert.deepEqual(c.tls, { ca: 'PEMDATA' });
    assert.ok(!JSON.stringify(c).includes('PEMDATA'), 'TLS options are not printed');
  });
  test('password masked in toString, JSON, inspect, spread and keys', () => {
    const c = resolveConfig({ env: { REDIS_HOST: 'h', REDIS_PASSWORD: SECRET } });
    assertNoSecret(c);
    assert.match(JSON.stringify(c), /"password":"\*\*\*"/);
    assert.ok(!JSON.stringify({ ...c }).includes(SECRET));
    assert.ok(!Object.keys(c).includes('password'));
    assert.ok(Object.isFrozen(c));
  });
});

describe('config: bad input → ConfigError naming the variable, never the password', () => {
  const bad: Array<[string, RedkitOptions, string, RegExp?]> = [
    ['malformed URL', { env: { REDIS_URL: `redis//:${SECRET}@h` } }, 'REDIS_URL', /not a valid URL/],
    ['unknown scheme', { env: { REDIS_URL: `http://:${SECRET}@h:1` } }, 'REDIS_URL', /unknown scheme "http"/],
    ['unix scheme', { env: { REDIS_URL: 'unix:///tmp/redis.sock' } }, 'REDIS_URL', /unknown scheme/],
    ['empty host in URL', { env: { REDIS_URL: `redis://:${SECRET}@:6379` } }, 'REDIS_URL'],
    ['URL port out of range', { env: { REDIS_URL: `redis://:${SECRET}@h:70000` } }, 'REDIS_URL'],
    ['URL db not numeric', { env: { REDIS_URL: `redis://:${SECRET}@h:1/abc` } }, 'REDIS_URL (database path)', /database number/],
    ['bad percent escape in password', { env: { REDIS_URL: `redis://:${SECRET}%zz@h:1` } }, 'REDIS_URL', /percent-escape/],
    ['port not numeric', { env: { REDIS_HOST: 'h', REDIS_PORT: 'abc' } }, 'REDIS_PORT', /1 to 65535/],
    ['port 0', { env: { REDIS_HOST: 'h', REDIS_PORT: '0' } }, 'REDIS_PORT'],
    ['port 65536', { env: { REDIS_HOST: 'h', REDIS_PORT: '65536' } }, 'REDIS_PORT'],
    ['port negative', { env: { REDIS_HOST: 'h', REDIS_PORT: '-1' } }, 'REDIS_PORT'],
    ['port fractional', { env: { REDIS_HOST: 'h', REDIS_PORT: '63.5' } }, 'REDIS_PORT'],
    ['db not numeric', { env: { REDIS_HOST: 'h', REDIS_DB: 'one' } }, 'REDIS_DB'],
    ['db negative', { env: { REDIS_HOST: 'h', REDIS_DB: '-2' } }, 'REDIS_DB'],
    ['whitespace host', { env: { REDIS_HOST: '   ', REDIS_PASSWORD: SECRET } }, 'REDIS_HOST', /empty/],
    ['host with a URL in it', { env: { REDIS_HOST: `redis://:${SECRET}@h` } }, 'REDIS_HOST', /REDIS_URL/],
    ['empty host option', { env: {}, host: '' }, 'options.host'],
    ['REDIS_TLS not boolean', { env: { REDIS_HOST: 'h', REDIS_TLS: 'maybe' } }, 'REDIS_TLS', /true or false/],
    ['rediss:// with REDIS_TLS=false', { env: { REDIS_URL: `rediss://:${SECRET}@h:1`, REDIS_TLS: 'false' } }, 'REDIS_TLS', /rediss:\/\//],
    ['redis:// with REDIS_TLS=true', { env: { REDIS_URL: `redis://:${SECRET}@h:1`, REDIS_TLS: 'true' } }, 'REDIS_TLS'],
    ['REDIS_URL and REDIS_HOST disagree', { env: { REDIS_URL: `redis://:${SECRET}@a:1`, REDIS_HOST: 'b' } }, 'REDIS_HOST', /disagree/],
    ['REDIS_URL and REDIS_PASSWORD disagree', { env: { REDIS_URL: `redis://:${SECRET}@a:1`, REDIS_PASSWORD: 'other-pass' } }, 'REDIS_PASSWORD', /disagree/],
    ['REDIS_URL and REDIS_PORT disagree', { env: { REDIS_URL: 'redis://a:1', REDIS_PORT: '2' } }, 'REDIS_PORT'],
    ['password without host', { env: { REDIS_PASSWORD: SECRET } }, 'REDIS_HOST', /no host/],
    ['port without host', { env: { REDIS_PORT: '6379' } }, 'REDIS_HOST'],
    ['bad environment name', { env: { REDIS_ENVIRONMENT: 'prod env' } }, 'REDIS_ENVIRONMENT'],
    ['environment with colon', { env: {}, environment: 'a:b' }, 'options.environment'],
    ['bad key prefix', { env: { REDIS_KEY_PREFIX: 'a*b' } }, 'REDIS_KEY_PREFIX'],
    ['connect timeout not numeric', { env: { REDIS_CONNECT_TIMEOUT_MS: 'soon' } }, 'REDIS_CONNECT_TIMEOUT_MS'],
    ['command timeout zero', { env: { REDIS_COMMAND_TIMEOUT_MS: '0' } }, 'REDIS_COMMAND_TIMEOUT_MS'],
    ['options.port out of range', { env: {}, host: 'h', port: 99999 }, 'options.port'],
    ['options.db NaN', { env: {}, host: 'h', db: Number.NaN }, 'options.db'],
    ['options.tls wrong type', { env: {}, host: 'h', tls: 'yes' as unknown as boolean }, 'options.tls'],
    ['options.url bad scheme', { env: {}, url: 'mysql://h' }, 'options.url'],
    ['CA file missing', { env: { REDIS_URL: 'rediss://h:1', REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' } }, 'REDIS_TLS_CA_FILE', /cannot be read/],
    ['CA file with TLS off', { env: { REDIS_URL: 'redis://h:1', REDIS_TLS_CA_FILE: '/x.pem' } }, 'REDIS_TLS_CA_FILE'],
    ['bad INSTANCE_ID', { env: { INSTANCE_ID: 'a b' } }, 'INSTANCE_ID'],
  ];
  for (const [name, options, variable, part] of bad) {
    test(name, () => expectConfigError(options, variable, part));
  }
});

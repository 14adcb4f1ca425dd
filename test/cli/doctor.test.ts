import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort, startRedis, stopRedis, testCertificates, type RedisServer } from '../helpers/redis-server.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const SECRET = 'doctor-Secret-42';

/** Runs `redkit doctor` with only `env` (plus PATH) and returns exit code and output. */
function doctor(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'doctor', ...args], { env: { PATH: process.env.PATH ?? '', REDIS_CONNECT_TIMEOUT_MS: '2000', ...env } });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('redkit doctor', () => {
  let password: RedisServer;
  let acl: RedisServer;
  let tls: RedisServer;
  before(async () => {
    [password, acl, tls] = await Promise.all([
      startRedis({ password: SECRET }),
      startRedis({ aclUser: { username: 'app', password: SECRET } }),
      startRedis({ tls: true }),
    ]);
  });
  after(async () => {
    await Promise.all([stopRedis(password), stopRedis(acl), stopRedis(tls)]);
  });

  test('exit 0 with a password, every step shown, the password masked', async () => {
    const { code, out } = await doctor({ REDIS_URL: password.url });
    assert.equal(code, 0, out);
    for (const step of ['config', 'dns', 'tcp', 'tls', 'auth', 'ping', 'version', 'maxmemory-policy', 'persistence'])
      assert.match(out, new RegExp(`\\b${step}\\b`));
    assert.match(out, /Redis 7\./);
    assert.match(out, /"password":"\*\*\*"/);
    assert.ok(!out.includes(SECRET));
  });
  test('exit 0 with an ACL user', async () => {
    const { code, out } = await doctor({ REDIS_URL: acl.url });
    assert.equal(code, 0, out);
    assert.match(out, /authenticated as app/);
    assert.ok(!out.includes(SECRET));
  });
  test('exit 0 over TLS with the CA', async () => {
    const { code, out } = await doctor({ REDIS_URL: `rediss://127.0.0.1:${tls.port}`, REDIS_TLS_CA_FILE: testCertificates().ca });
    assert.equal(code, 0, out);
    assert.match(out, /TLS handshake and certificate verified/);
  });
  test('flags override env', async () => {
    const { code, out } = await doctor({ REDIS_URL: 'redis://127.0.0.1:1' }, ['--port', String(password.port), '--password', SECRET]);
    assert.equal(code, 0, out);
    assert.ok(!out.includes(SECRET));
  });
  test('wrong password: exit 1, WRONGPASS with the REDIS_PASSWORD hint', async () => {
    const { code, out } = await doctor({ REDIS_HOST: '127.0.0.1', REDIS_PORT: String(password.port), REDIS_PASSWORD: 'not-the-password' });
    assert.equal(code, 1, out);
    assert.match(out, /✖ auth\s+WRONGPASS/);
    assert.match(out, /fix: check REDIS_USERNAME and REDIS_PASSWORD/);
    assert.ok(!out.includes('not-the-password'));
  });
  test('missing password: exit 1, NOAUTH', async () => {
    const { code, out } = await doctor({ REDIS_HOST: '127.0.0.1', REDIS_PORT: String(password.port) });
    assert.equal(code, 1, out);
    assert.match(out, /NOAUTH/);
    assert.match(out, /set REDIS_PASSWORD/);
  });
  test('wrong port: exit 1, connection refused with the REDIS_PORT hint', async () => {
    const { code, out } = await doctor({ REDIS_HOST: '127.0.0.1', REDIS_PORT: String(await freePort()) });
    assert.equal(code, 1, out);
    assert.match(out, /✖ tcp\s+connection refused/);
    assert.match(out, /REDIS_PORT/);
  });
  test('TLS to a plain port: exit 1, says the server speaks plain Redis', async () => {
    const { code, out } = await doctor({ REDIS_URL: `rediss://:${SECRET}@127.0.0.1:${password.port}` });
    assert.equal(code, 1, out);
    assert.match(out, /✖ tls\s+TLS requested but .* answers plain-text Redis/);
    assert.match(out, /use redis:\/\//);
  });
  test('plain to a TLS port: exit 1, suggests rediss://', async () => {
    const { code, out } = await doctor({ REDIS_URL: `redis://127.0.0.1:${tls.port}` });
    assert.equal(code, 1, out);
    assert.match(out, /✖ tls/);
    assert.match(out, /rediss:\/\/ or REDIS_TLS=true/);
  });
  test('unknown host: exit 1, DNS with the REDIS_HOST hint', async () => {
    const { code, out } = await doctor({ REDIS_HOST: 'no-such-host.invalid' });
    assert.equal(code, 1, out);
    assert.match(out, /✖ dns\s+no-such-host\.invalid: not found/);
    assert.match(out, /check REDIS_HOST/);
  });
  test('bad config: exit 2 naming the variable', async () => {
    const { code, out } = await doctor({ REDIS_URL: `ftp://:${SECRET}@h` });
    assert.equal(code, 2, out);
    assert.match(out, /REDIS_URL has unknown scheme "ftp"/);
    assert.ok(!out.includes(SECRET));
  });
  test('standalone: exit 0, nothing to check', async () => {
    const { code, out } = await doctor({});
    assert.equal(code, 0, out);
    assert.match(out, /standalone/);
  });
  test('--json output is machine-readable', async () => {
    const { code, out } = await doctor({ REDIS_URL: password.url }, ['--json']);
    assert.equal(code, 0);
    const report = JSON.parse(out);
    assert.equal(report.exitCode, 0);
    assert.ok(report.steps.some((s: { name: string; status: string }) => s.name === 'ping' && s.status === 'ok'));
  });
});

describe('redkit doctor: ACL permissions of the configured user', () => {
  let server: RedisServer;
  let admin: Redis;
  before(async () => {
    server = await startRedis();
    admin = new Redis({ port: server.port, host: server.host, lazyConnect: true });
    await admin.connect();
    // The README's least-privilege line for the prefix "shop", and a user whose patterns miss it.
    await admin.call('ACL', 'SETUSER', 'app', 'on', `>${SECRET}`, 'resetkeys', '~shop:*', 'resetchannels', '&shop:*', '+@all', '-@dangerous');
    await admin.call('ACL', 'SETUSER', 'narrow', 'on', `>${SECRET}`, 'resetkeys', '~other:*', 'resetchannels', '&other:*', '+@all', '-@dangerous');
  });
  after(async () => {
    admin?.disconnect();
    await stopRedis(server);
  });

  const env = (user: string) => ({
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(server.port),
    REDIS_USERNAME: user,
    REDIS_PASSWORD: SECRET,
    REDIS_KEY_PREFIX: 'shop',
  });

  test('a least-privilege user (+@all -@dangerous on the prefix): exit 0, permissions ok, INFO steps skipped', async () => {
    const { code, out } = await doctor(env('app'));
    assert.equal(code, 0, out);
    assert.match(out, /✔ permissions\s+ACL user "app" may run what redkit needs under "shop:\*" \(tried each command\)/);
    assert.match(out, /version\s+Redis 7\.[\d.]+ \(from HELLO\)/);
    assert.match(out, /· maxmemory-policy\s+INFO is refused to this ACL user/);
    assert.ok(!out.includes(SECRET));
  });
  test('a user whose key pattern misses the prefix: exit 1, the refused commands and the ACL fix', async () => {
    const { code, out } = await doctor(env('narrow'));
    assert.equal(code, 1, out);
    assert.match(out, /✖ permissions\s+ACL user "narrow" may not run what redkit needs — SET: NOPERM/);
    assert.match(out, /PUBLISH: NOPERM/);
    assert.match(out, /fix: as an admin: ACL SETUSER narrow on ~shop:\* &shop:\* \+@all -@dangerous/);
    assert.ok(!out.includes(SECRET));
  });
  test('an admin user is checked with ACL DRYRUN', async () => {
    const { code, out } = await doctor({ REDIS_URL: server.url, REDIS_KEY_PREFIX: 'shop' });
    assert.equal(code, 0, out);
    assert.match(out, /✔ permissions\s+ACL user "default" may run what redkit needs under "shop:\*" \(ACL DRYRUN\)/);
  });
});

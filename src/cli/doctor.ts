import { lookup } from 'node:dns/promises';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { resolveConfig } from '../config/parse.js';
import type { RedkitConfig, RedkitOptions } from '../config/types.js';
import { classifyError } from '../connection/classify.js';
import type { Redis } from 'ioredis';
import { RedisConnection } from '../connection/redis-connection.js';
import { ConfigError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { checkPermissions } from './doctor-acl.js';
import { clusterSteps, nodeConfig } from './doctor-cluster.js';
import { checkSentinels } from './doctor-sentinel.js';
import type { DoctorStep } from './doctor-step.js';

export type { DoctorStep } from './doctor-step.js';

/** The doctor's verdict: exit code 0 usable, 1 not usable, 2 bad config. */
export interface DoctorReport {
  config: Record<string, unknown> | null;
  steps: DoctorStep[];
  exitCode: 0 | 1 | 2;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`${what} timed out after ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Opens a socket with `open`, resolves on `event`, and always destroys it (a hung handshake must not keep the CLI alive). */
async function probeSocket(open: () => Socket, event: 'connect' | 'secureConnect', ms: number, what: string): Promise<void> {
  let socket: Socket | undefined;
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket = open();
        socket.once(event, () => resolve());
        socket.once('error', reject);
      }),
      ms,
      what,
    );
  } finally {
    socket?.destroy();
  }
}

/** Sends a plain-text PING and returns the first reply line, or null if the server closed or said nothing. */
async function plainPing(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket: Socket = tcpConnect({ host, port });
    let data = '';
    const done = (value: string | null) => {
      socket.destroy();
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => done(data || null), timeoutMs);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n')) done(data.split('\r\n')[0]!);
    });
    socket.on('error', () => done(null));
    socket.on('close', () => done(data || null));
  });
}

/**
 * Checks a Redis step by step — config, DNS, TCP, TLS, AUTH, PING latency, server version,
 * ACL permissions, maxmemory-policy, persistence — and says how to fix each failure. Never
 * prints a secret.
 */
export async function runDoctor(options: RedkitOptions): Promise<DoctorReport> {
  let config: RedkitConfig;
  try {
    config = resolveConfig(options);
  } catch (err) {
    if (err instanceof ConfigError) {
      return { config: null, steps: [{ name: 'config', status: 'fail', detail: err.message, fix: `fix ${err.variable}` }], exitCode: 2 };
    }
    throw err;
  }
  const printable = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  const steps: DoctorStep[] = [
    {
      name: 'config',
      status: 'ok',
      detail: `${config.target} (sources: ${
        Object.entries(config.sources)
          .map(([k, v]) => `${k}←${v}`)
          .join(', ') || 'defaults'
      }), key prefix "${config.prefix}"`,
    },
  ];
  const fail = (step: DoctorStep): DoctorReport => ({ config: printable, steps: [...steps, step], exitCode: 1 });
  if (config.mode === 'standalone') {
    steps.push({
      name: 'redis',
      status: 'skip',
      detail: 'no Redis configured: redkit runs standalone (in-memory, one instance)',
      fix: 'set REDIS_URL or REDIS_HOST to use Redis',
    });
    return { config: printable, steps, exitCode: 0 };
  }
  const timeoutMs = config.connectTimeoutMs;
  const secrets = [config.password, config.sentinelPassword];
  let host = config.host!;
  let port = config.port;
  if (config.topology === 'sentinel') {
    const master = await checkSentinels(config, steps);
    if (!master) return { config: printable, steps, exitCode: 1 };
    [host, port] = [master.host, master.port];
  }
  const target = `${host}:${port}`;
  const tls = config.tls !== false;

  if (isIP(host)) {
    steps.push({ name: 'dns', status: 'skip', detail: `${host} is an IP address` });
  } else {
    try {
      const { address } = await withTimeout(lookup(host), timeoutMs, 'DNS lookup');
      steps.push({ name: 'dns', status: 'ok', detail: `${host} → ${address}` });
    } catch (err) {
      const c = classifyError(err, { target, tls, secrets });
      return fail({
        name: 'dns',
        status: 'fail',
        detail: `${host}: ${c.reason === 'DNS' ? 'not found' : c.message}`,
        fix: classifyError(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' }), { target, tls }).hint,
      });
    }
  }

  try {
    await probeSocket(() => tcpConnect({ host, port }), 'connect', timeoutMs, 'TCP connect');
    steps.push({ name: 'tcp', status: 'ok', detail: `${target} accepts connections` });
  } catch (err) {
    const c = classifyError(err, { target, tls: false, secrets });
    return fail({ name: 'tcp', status: 'fail', detail: c.message, fix: c.hint });
  }

  const plainReply = await plainPing(host, port, Math.min(timeoutMs, 1500));
  const speaksPlain = plainReply !== null && /^[+-]/.test(plainReply);
  if (tls) {
    try {
      await probeSocket(
        () => tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...config.tls }),
        'secureConnect',
        timeoutMs,
        'TLS handshake',
      );
      steps.push({ name: 'tls', status: 'ok', detail: 'TLS handshake and certificate verified' });
    } catch (err) {
      if (speaksPlain)
        return fail({
          name: 'tls',
          status: 'fail',
          detail: `TLS requested but ${target} answers plain-text Redis ("${plainReply}")`,
          fix: "use redis:// (or REDIS_TLS=false) for this port, or the server's TLS port",
        });
      const c = classifyError(err, { target, tls, secrets });
      return fail({ name: 'tls', status: 'fail', detail: c.message, fix: c.hint });
    }
  } else if (!speaksPlain) {
    return fail({
      name: 'tls',
      status: 'fail',
      detail: `${target} does not answer plain-text Redis (it closed the connection or said nothing)`,
      fix: 'if this server requires TLS (Upstash does), use rediss:// or REDIS_TLS=true',
    });
  } else {
    steps.push({ name: 'tls', status: 'skip', detail: 'TLS off; the server answers plain-text Redis' });
  }

  // Cluster: the seed is talked to as one server, then doctor-cluster.ts checks every node.
  const connection = new RedisConnection(config.topology === 'cluster' ? nodeConfig(config, host, port) : config, silentLogger);
  // Cluster nodes are checked one by one (cluster steps); here the seed answers as one server.
  const client = connection.dedicatedClient({
    purpose: 'doctor',
    overrides: { lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: true, maxRetriesPerRequest: 0 },
  }) as Redis;
  // ioredis reports WRONGPASS/NOAUTH as an 'error' event and rejects connect() with a bare
  // "Connection is closed"; the event holds the cause worth showing.
  let emitted: unknown;
  client.on('error', (err: unknown) => {
    emitted ??= err;
  });
  try {
    try {
      await withTimeout(client.connect(), timeoutMs, 'connect');
      await withTimeout(client.ping(), timeoutMs, 'PING');
      steps.push({
        name: 'auth',
        status: 'ok',
        detail: config.password ? `authenticated${config.username ? ` as ${config.username}` : ''}` : 'no password needed',
      });
      if (config.topology === 'cluster') {
        steps.push(...(await clusterSteps(config, client, target)));
        return { config: printable, steps, exitCode: steps.some((s) => s.status === 'fail') ? 1 : 0 };
      }
      const role = await roleStep(client, target, config.topology);
      steps.push(role);
      if (role.status === 'fail') return { config: printable, steps, exitCode: 1 };
    } catch (err) {
      const c = classifyError(emitted ?? err, { target, tls, secrets });
      return fail({ name: 'auth', status: 'fail', detail: `${c.reason}: ${c.message}`, fix: c.hint });
    }
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      await client.ping();
      samples.push(performance.now() - start);
    }
    samples.sort((a, b) => a - b);
    steps.push({ name: 'ping', status: 'ok', detail: `median ${samples[2]!.toFixed(2)} ms over 5 PINGs` });
    const permissions = await checkPermissions(client, config.username, config.prefix);
    steps.push(permissions);
    // INFO is @dangerous: a least-privilege user may not run it, and redkit does not need it.
    const info = await client.info().catch((err: unknown) => {
      if (/^NOPERM/.test(String((err as Error)?.message))) return null;
      throw err;
    });
    if (info === null) {
      const hello = (await client.call('HELLO', '2').catch(() => [])) as unknown[];
      const version = String(hello[hello.indexOf('version') + 1] ?? 'unknown');
      steps.push({ name: 'version', status: Number(version.split('.')[0]) >= 7 ? 'ok' : 'warn', detail: `Redis ${version} (from HELLO)` });
      for (const name of ['maxmemory-policy', 'persistence']) {
        steps.push({
          name,
          status: 'skip',
          detail: 'INFO is refused to this ACL user (as -@dangerous intends; redkit does not need it)',
          fix: `ask an admin to run INFO and check it: ${name === 'persistence' ? 'appendonly yes if job state and queues must survive a restart' : 'maxmemory-policy noeviction'}`,
        });
      }
      return { config: printable, steps, exitCode: permissions.status === 'fail' ? 1 : 0 };
    }
    const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
    const version = field('redis_version') ?? 'unknown';
    const major = Number(version.split('.')[0]);
    steps.push({
      name: 'version',
      status: major >= 6 ? 'ok' : 'warn',
      detail: `Redis ${version}`,
      ...(major >= 6 ? {} : { fix: 'redkit needs Redis ≥ 6 for ACL users; upgrade' }),
    });
    const policy = field('maxmemory_policy') ?? 'unknown';
    steps.push(
      policy === 'noeviction'
        ? { name: 'maxmemory-policy', status: 'ok', detail: 'noeviction' }
        : {
            name: 'maxmemory-policy',
            status: 'warn',
            detail: policy,
            fix: 'queues and locks need keys that are never evicted: set maxmemory-policy noeviction (or use a separate Redis for cache)',
          },
    );
    const aof = field('aof_enabled') === '1';
    const rdbSaves = field('rdb_last_save_time');
    steps.push(
      aof
        ? { name: 'persistence', status: 'ok', detail: 'AOF enabled' }
        : {
            name: 'persistence',
            status: 'warn',
            detail: `AOF off${rdbSaves ? `; last RDB save at ${new Date(Number(rdbSaves) * 1000).toISOString()}` : ''}`,
            fix: 'job state and queues are lost on a Redis restart without persistence; enable appendonly yes if they must survive one (locks stay safe: fences are floored by server time)',
          },
    );
    if (permissions.status === 'fail') return { config: printable, steps, exitCode: 1 };
    return { config: printable, steps, exitCode: 0 };
  } finally {
    await connection.close();
  }
}

/** What the server is: a master (usable), a replica or a sentinel (not usable as the master). */
async function roleStep(client: Redis, target: string, topology: string): Promise<DoctorStep> {
  const reply = await client.call('ROLE').then(
    (r) => r as unknown[],
    (err: Error) => err,
  );
  if (reply instanceof Error)
    return {
      name: 'role',
      status: 'skip',
      detail: `ROLE refused (${reply.message.split(' ')[0]}): the role is not known`,
      fix: 'ask an admin to run ROLE on it: it must say master',
    };
  const role = String(reply[0]);
  if (role === 'master')
    return {
      name: 'role',
      status: 'ok',
      detail: `${topology === 'sentinel' ? 'sentinel-managed master' : 'standalone master'} (${Array.isArray(reply[2]) ? reply[2].length : 0} replicas connected)`,
    };
  if (role === 'sentinel')
    return {
      name: 'role',
      status: 'fail',
      detail: `${target} is a Redis Sentinel, not a Redis server`,
      fix: 'set REDIS_SENTINELS=<this host:port> and REDIS_SENTINEL_MASTER_NAME instead of REDIS_URL',
    };
  return {
    name: 'role',
    status: 'fail',
    detail: `${target} is a read-only replica (of ${String(reply[1])}:${String(reply[2])})`,
    fix: 'point REDIS_URL at the primary, or use REDIS_SENTINELS so that redkit follows the master',
  };
}

/** Renders the report for a terminal. */
export function formatDoctor(report: DoctorReport): string {
  const mark = { ok: '✔', warn: '⚠', fail: '✖', skip: '·' } as const;
  const lines = ['redkit doctor', ''];
  if (report.config) lines.push(`config: ${JSON.stringify(report.config)}`, '');
  for (const step of report.steps) {
    lines.push(`${mark[step.status]} ${step.name.padEnd(17)} ${step.detail}`);
    if (step.fix && step.status !== 'ok') lines.push(`  ${' '.repeat(17)} fix: ${step.fix}`);
  }
  lines.push('', report.exitCode === 0 ? 'usable' : report.exitCode === 2 ? 'bad configuration' : 'not usable');
  return lines.join('\n');
}

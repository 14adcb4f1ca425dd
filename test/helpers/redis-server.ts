import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Options of a throwaway redis-server. */
export interface RedisServerOptions {
  /** `requirepass` for the default user. */
  password?: string;
  /** An ACL user with all permissions (the default user is then disabled unless `password` is set). */
  aclUser?: { username: string; password: string };
  /** Serve TLS only, with a certificate generated for 127.0.0.1/localhost. */
  tls?: boolean;
  /** Extra `--name value` arguments. */
  args?: string[];
}

/** A real redis-server process on a free port that a test can stop, kill, pause and restart. */
export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** `redis://` (or `rediss://`) URL with credentials when set; `redis+sentinel://` / `redis+cluster://` for those topologies. */
  readonly url: string;
  /** PEM CA that signed the TLS certificate (TLS servers only). */
  readonly ca?: string;
  readonly options: RedisServerOptions;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** SIGSTOP: the TCP connection stays open, nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Starts again on the same port (after stop or kill); data is gone (no persistence). */
  start(): Promise<void>;
  /** kill -9 then start. */
  restart(): Promise<void>;
  readonly pid: number | undefined;
  /**
   * Set when `REDKIT_TEST_TOPOLOGY=sentinel` made this a Sentinel set (1 master, 2 replicas,
   * 3 sentinels): `kitFor` then finds the master through the sentinels, and the fault methods
   * above act on the master as started.
   */
  readonly sentinel?: { addresses: ReadonlyArray<{ host: string; port: number }>; masterName: string; stopAll(): Promise<void> };
  /**
   * Set when `REDKIT_TEST_TOPOLOGY=cluster` made this a Redis Cluster (3 masters, 3 replicas):
   * `kitFor` then seeds from every node, and the fault methods above act on every node at once
   * (the whole cluster is down, paused or restarted empty), as they act on the one server.
   */
  readonly cluster?: { seeds: ReadonlyArray<{ host: string; port: number }>; stopAll(): Promise<void> };
}

/** `REDKIT_TEST_TOPOLOGY`: `single` (default), `sentinel` or `cluster`. */
export function testTopology(): 'single' | 'sentinel' | 'cluster' {
  const value = process.env.REDKIT_TEST_TOPOLOGY ?? 'single';
  if (value !== 'single' && value !== 'sentinel' && value !== 'cluster') throw new Error(`REDKIT_TEST_TOPOLOGY=${value}: use single, sentinel or cluster`);
  return value;
}

/** Finds a port nobody listens on now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

let certDir: string | undefined;
/** Generates (once per process) a CA and a server certificate for 127.0.0.1 and localhost. */
export function testCertificates(): { dir: string; ca: string; cert: string; key: string; caPem: string } {
  if (!certDir) {
    certDir = mkdtempSync(join(tmpdir(), 'redkit-tls-'));
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: certDir, stdio: 'pipe' });
    run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=redkit-test-ca']);
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
    writeFileSync(join(certDir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    run([
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '2',
      '-extfile',
      'san.ext',
    ]);
  }
  const dir = certDir;
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    cert: join(dir, 'server.crt'),
    key: join(dir, 'server.key'),
    caPem: execFileSync('cat', [join(dir, 'ca.crt')]).toString(),
  };
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** Starts a throwaway redis-server (no persistence) on a free port and waits until it accepts connections. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  // ACL files and extra arguments configure one server; those tests keep a single one.
  if (testTopology() === 'sentinel' && !options.aclUser && !options.args?.length) return startSentinelBacked(options);
  if (testTopology() === 'cluster' && !options.aclUser && !options.args?.length) return startClusterBacked(options);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'redkit-redis-'));
  const args = [
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--protected-mode',
    'no',
    '--loglevel',
    'warning',
  ];
  let ca: string | undefined;
  if (options.tls) {
    const certs = testCertificates();
    ca = certs.caPem;
    args.push(
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--tls-cert-file',
      certs.cert,
      '--tls-key-file',
      certs.key,
      '--tls-ca-cert-file',
      certs.ca,
      '--tls-auth-clients',
      'no',
    );
  } else {
    args.push('--port', String(port));
  }
  if (options.password) args.push('--requirepass', options.password);
  if (options.aclUser) {
    const aclFile = join(dir, 'users.acl');
    const defaultUser = options.password ? `user default on >${options.password} ~* &* +@all` : 'user default off';
    writeFileSync(aclFile, `${defaultUser}\nuser ${options.aclUser.username} on >${options.aclUser.password} ~* &* +@all\n`);
    args.push('--aclfile', aclFile);
    const i = args.indexOf('--requirepass');
    if (i >= 0) args.splice(i, 2);
  }
  args.push(...(options.args ?? []));

  let child: ChildProcess | undefined;
  const spawnServer = async () => {
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    child = proc;
    let output = '';
    proc.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    proc.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    await waitForPort(port, 10_000, () => (proc.exitCode !== null ? `redis-server exited (${proc.exitCode}): ${output}` : undefined));
  };
  const waitExit = (proc: ChildProcess, signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      if (signal !== 'SIGKILL') proc.kill('SIGCONT');
      proc.kill(signal);
    });

  await spawnServer();
  const auth = options.aclUser
    ? `${encodeURIComponent(options.aclUser.username)}:${encodeURIComponent(options.aclUser.password)}@`
    : options.password
      ? `:${encodeURIComponent(options.password)}@`
      : '';
  const server: RedisServer = {
    host: '127.0.0.1',
    port,
    url: `${options.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}`,
    ca,
    options,
    get pid() {
      return child?.pid;
    },
    stop: () => waitExit(child!, 'SIGTERM'),
    kill: () => waitExit(child!, 'SIGKILL'),
    pause: () => {
      child!.kill('SIGSTOP');
    },
    resume: () => {
      child!.kill('SIGCONT');
    },
    start: async () => {
      if (child && child.exitCode === null && child.signalCode === null) throw new Error('redis-server is still running');
      await spawnServer();
    },
    restart: async () => {
      await waitExit(child!, 'SIGKILL');
      await spawnServer();
    },
  };
  return server;
}

/** A Sentinel set seen as one server: its master as started. */
async function startSentinelBacked(options: RedisServerOptions): Promise<RedisServer> {
  const { startSentinelSet } = await import('./sentinel.js');
  const set = await startSentinelSet({ password: options.password, tls: options.tls });
  const master = set.dataNodes[0]!;
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  return {
    host: master.host,
    port: master.port,
    // The sentinel URL form: fixtures and child processes given `url` (or REDIS_URL) find the master through the sentinels.
    url: `${options.tls ? 'rediss' : 'redis'}+sentinel://${auth}${set.sentinelAddresses.map((s) => `${s.host}:${s.port}`).join(',')}/${set.masterName}`,
    ca: set.ca,
    options,
    get pid() {
      return master.pid;
    },
    stop: () => master.stop(),
    kill: () => master.kill(),
    pause: () => master.pause(),
    resume: () => master.resume(),
    start: () => master.start(),
    restart: () => master.restart(),
    sentinel: { addresses: set.sentinelAddresses, masterName: set.masterName, stopAll: () => set.stop() },
  };
}

/** A Redis Cluster seen as one server: every fault acts on every node. */
async function startClusterBacked(options: RedisServerOptions): Promise<RedisServer> {
  const { startCluster } = await import('./cluster.js');
  const cluster = await startCluster({ password: options.password, tls: options.tls });
  const first = cluster.nodes[0]!;
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  const all = async (act: (node: (typeof cluster.nodes)[number]) => Promise<void> | void) => {
    await Promise.all(cluster.nodes.map(async (node) => act(node)));
  };
  return {
    host: first.host,
    port: first.port,
    // The cluster URL form: fixtures and child processes given `url` (or REDIS_URL) seed from every node.
    url: `${options.tls ? 'rediss' : 'redis'}+cluster://${auth}${cluster.seeds.map((s) => `${s.host}:${s.port}`).join(',')}`,
    ca: cluster.ca,
    options,
    get pid() {
      return first.pid;
    },
    stop: () => all((n) => n.stop()),
    kill: () => all((n) => n.kill()),
    pause: () => void all((n) => n.pause()),
    resume: () => void all((n) => n.resume()),
    // Every node back with its nodes.conf: the cluster re-forms, its data gone.
    start: async () => {
      await all((n) => n.start());
      await cluster.waitForOk(30_000);
    },
    restart: async () => {
      await all((n) => n.kill());
      await all((n) => n.start());
      await cluster.waitForOk(30_000);
    },
    cluster: { seeds: cluster.seeds, stopAll: () => cluster.stop() },
  };
}

/** Stops a server and removes nothing else; safe to call twice. */
export async function stopRedis(server: RedisServer | undefined): Promise<void> {
  if (!server) return;
  if (server.sentinel) return server.sentinel.stopAll();
  if (server.cluster) return server.cluster.stopAll();
  server.resume();
  await server.kill();
}

/** Waits until something accepts TCP connections on `port`. */
export async function waitForPort(port: number, timeoutMs: number, failed?: () => string | undefined): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = failed?.();
    if (reason) throw new Error(reason);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

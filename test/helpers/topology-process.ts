import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { testCertificates, waitForPort } from './redis-server.js';
import { sleep } from './util.js';

/** A redis-server (or sentinel) process of a topology, which a test can kill, pause and restart. */
export interface TopologyProcess {
  readonly host: string;
  readonly port: number;
  /** Undefined once stopped or killed. */
  readonly pid: number | undefined;
  /** True while the process exists (a paused one included). */
  readonly running: boolean;
  /** SIGTERM (after SIGCONT) and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Starts again on the same port with the same arguments and directory (after stop or kill). */
  start(): Promise<void>;
  /** kill -9, then start. */
  restart(): Promise<void>;
}

const live = new Set<ChildProcess>();
// A test that throws before stop() must not leave servers behind: they would outlive the run.
process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** Number of topology processes this test process has running now (leak checks). */
export function liveTopologyProcesses(): number {
  return live.size;
}

/** Spawns `redis-server args` and waits until `port` accepts connections. */
export async function spawnTopologyProcess(args: string[], port: number, label: string): Promise<TopologyProcess> {
  let child: ChildProcess | undefined;
  let paused = false;
  const spawnIt = async () => {
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    child = proc;
    paused = false;
    let output = '';
    const collect = (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
    };
    proc.stdout!.on('data', collect);
    proc.stderr!.on('data', collect);
    await waitForPort(port, 10_000, () => (proc.exitCode !== null ? `${label} on port ${port} exited (${proc.exitCode}): ${output}` : undefined));
  };
  const exited = () => !child || child.exitCode !== null || child.signalCode !== null;
  const waitExit = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      const proc = child!;
      if (exited()) return resolve();
      proc.once('exit', () => resolve());
      if (signal !== 'SIGKILL' && paused) proc.kill('SIGCONT');
      proc.kill(signal);
    });
  await spawnIt();
  return {
    host: '127.0.0.1',
    port,
    get pid() {
      return exited() ? undefined : child!.pid;
    },
    get running() {
      return !exited();
    },
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    pause: () => {
      if (!exited()) {
        child!.kill('SIGSTOP');
        paused = true;
      }
    },
    resume: () => {
      if (!exited()) {
        child!.kill('SIGCONT');
        paused = false;
      }
    },
    start: async () => {
      if (!exited()) throw new Error(`${label} on port ${port} is still running`);
      await spawnIt();
    },
    restart: async () => {
      await waitExit('SIGKILL');
      await spawnIt();
    },
  };
}

/**
 * Sends one command on a fresh connection (TLS when `ca` is given) and closes it: a node that was
 * killed, restarted or paused never leaves a half-dead client behind. Bounded by `timeoutMs`.
 */
export async function adminCall(
  port: number,
  args: Array<string | number>,
  opts: { password?: string; ca?: string; timeoutMs?: number } = {},
): Promise<unknown> {
  const timeoutMs = opts.timeoutMs ?? 1000;
  const client = new Redis({
    host: '127.0.0.1',
    port,
    password: opts.password,
    tls: opts.ca ? { ca: opts.ca } : undefined,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableReadyCheck: false,
    enableOfflineQueue: true,
  });
  client.on('error', () => {
    /* the rejected call reports it */
  });
  try {
    await client.connect();
    return await client.call(String(args[0]), ...args.slice(1).map(String));
  } finally {
    client.disconnect();
  }
}

/** Arguments that make a redis-server (or sentinel) serve TLS only on `port`, with the test CA. */
export function tlsArgs(port: number): string[] {
  const certs = testCertificates();
  return [
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
    '--tls-replication',
    'yes',
  ];
}

/** Parses `field:value` lines (INFO, CLUSTER INFO) into a map. */
export function parseInfo(text: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of String(text).split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** Polls `check` every `everyMs` until it returns a value other than undefined; throws `what()` on timeout. */
export async function pollUntil<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: () => string, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

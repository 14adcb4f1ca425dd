import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { freePort, waitForPort } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/util.js';

/** A test WebSocket client that keeps the room view the protocol describes. */
export class TestClient {
  readonly ws: WebSocket;
  readonly frames: Array<Record<string, any>> = [];
  readonly members = new Map<string, Set<string>>();
  readonly counts = new Map<string, Record<string, number>>();
  hello: Record<string, any> | null = null;
  closed: { code: number; reason: string } | null = null;
  /** When a frame changed the member list of a room last (performance.now()). */
  changedAt = 0;

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, options);
    this.ws.on('message', (data) => this.#onFrame(JSON.parse(data.toString()) as Record<string, any>));
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
    this.ws.on('error', () => {
      /* close follows; tests look at `closed` */
    });
  }

  static async open(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const client = new TestClient(url, options);
    await waitFor(() => client.hello !== null || client.closed !== null, 10_000, `hello from ${url}`);
    return client;
  }

  #onFrame(f: Record<string, any>): void {
    this.frames.push(f);
    if (f.type === 'hello') this.hello = f;
    if (f.type === 'snapshot') {
      this.members.set(f.room, new Set((f.members as Array<{ id: string }>).map((m) => m.id)));
      this.counts.set(f.room, { ...f.reactions });
      this.changedAt = performance.now();
    }
    if (f.type === 'joined') {
      this.members.get(f.room)?.add(f.member.id);
      this.changedAt = performance.now();
    }
    if (f.type === 'left') {
      this.members.get(f.room)?.delete(f.memberId);
      this.changedAt = performance.now();
    }
    if (f.type === 'reaction') {
      const c = this.counts.get(f.room);
      if (c) c[f.reaction] = f.count;
    }
    if (f.type === 'reactions') this.counts.set(f.room, { ...f.counts });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a join and waits for its snapshot. */
  async join(room: string, id: string, name = id): Promise<void> {
    const before = this.frames.length;
    this.send({ type: 'join', room, id, name });
    await waitFor(
      () => this.frames.slice(before).some((f) => f.type === 'snapshot' && f.room === room) || this.frames.slice(before).find((f) => f.type === 'error'),
      10_000,
      `snapshot of ${room} for ${id}`,
    );
  }

  list(room: string): string[] {
    return [...(this.members.get(room) ?? [])].sort();
  }

  /** The first frame of `type` after index `from`, waiting up to `timeoutMs`. */
  async next(type: string, from = 0, timeoutMs = 5000): Promise<Record<string, any>> {
    const { value } = await waitFor(() => this.frames.slice(from).find((f) => f.type === type), timeoutMs, `a "${type}" frame`);
    return value!;
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const { value } = await waitFor(() => this.closed, timeoutMs, 'the connection to close');
    return value!;
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/** A reference server (`node dist/app/main.js`) running in its own process. */
export interface ServerProcess {
  port: number;
  url: string;
  wsUrl: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

const MAIN = fileURLToPath(new URL('../../app/main.js', import.meta.url));

/** Starts the reference server on a free port with `env` (REDIS_URL etc.) and waits until it listens. */
export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
    });
  process.once('exit', () => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  });
  await waitForPort(port, 20_000, () => (child.exitCode !== null ? `server exited (${child.exitCode}): ${out}` : undefined));
  // The server listens before it has connected to Redis; these tests start from a connected state.
  if (env.REDIS_URL) {
    await waitFor(
      async () => (await getJson(`http://127.0.0.1:${port}/api/health`)).body.redis.status === 'connected',
      10_000,
      'server connected to Redis',
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nserver output:\n${out}`);
    });
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    child,
    output: () => out,
    stop: async () => {
      const done = exited();
      child.kill('SIGTERM');
      await done;
    },
    kill: async () => {
      const done = exited();
      child.kill('SIGKILL');
      await done;
    },
  };
}

/** GET a JSON endpoint; returns status and body. */
export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

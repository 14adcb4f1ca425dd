// Cross-instance fan-out: 2 server processes × N WebSocket clients on one redis-server, one
// sender on instance A; latency is measured at the clients of instance B (sent → received),
// throughput as frames delivered to all clients per second. redkit's gateway (reactions:
// HINCRBY + PUBLISH in one script) side by side with socket.io + @socket.io/redis-adapter.
//   BENCH_MS=2000 node dist/bench/realtime.js        (BENCH_CLIENTS=500 per instance, BENCH_WINDOW=4 in flight)
// BENCH_TOPOLOGY=cluster: both on a local Redis Cluster with sharded pub/sub — redkit's per-room
// SPUBLISH from the reactions script, and @socket.io/redis-adapter's sharded adapter.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { io as ioClient, type Socket } from 'socket.io-client';
import { stopRedis, freePort, waitForPort } from '../test/helpers/redis-server.js';
import { printTable, type BenchResult } from './lib/measure.js';
import { describeServer, onCluster, startBenchRedis, targetOf } from './lib/topology.js';

const ROOM = 'bench';
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 500);
const DURATION_MS = Number(process.env.BENCH_MS ?? 3000);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 4);

// ---- server side (this same file, spawned with --serve) ------------------------------------

/** `redisTarget`: a redis:// URL, or `cluster:<seeds>` on a cluster. */
async function serve(kind: string, port: number, redisTarget: string, prefix: string): Promise<void> {
  const { createRedkit, createGateway, silentLogger } = await import('../src/index.js');
  const cluster = redisTarget.startsWith('cluster:');
  const target = cluster ? { clusterNodes: redisTarget.slice('cluster:'.length) } : { url: redisTarget };
  const kit = await createRedkit({ ...target, keyPrefix: prefix, logger: silentLogger, env: {} });
  const http = createServer();
  if (kind === 'redkit') {
    createGateway(kit, { ratePerSecond: 1e6, rateBurst: 1e6, floodCloseAfter: 1e9 }).attach(http);
  } else {
    const { Server } = await import('socket.io');
    const { createAdapter, createShardedAdapter } = await import('@socket.io/redis-adapter');
    // The adapter's clients come from redkit's connection, like every client in this project.
    // On a cluster: the sharded adapter (SPUBLISH, one SSUBSCRIBE channel per room), whose
    // subscriber needs ioredis's sharded subscribers; both queue commands until the slot map is known.
    const pub = kit.connection.dedicatedClient({ purpose: 'socketio-pub', overrides: cluster ? { enableOfflineQueue: true } : {} });
    const sub = kit.connection.dedicatedClient({
      purpose: 'socketio-sub',
      ...(cluster ? { overrides: { enableOfflineQueue: true }, clusterOverrides: { shardedSubscribers: true } } : {}),
    });
    const adapter = cluster ? createShardedAdapter(pub, sub, { channelPrefix: `${prefix}:sio` }) : createAdapter(pub, sub, { key: `${prefix}:sio` });
    const io = new Server(http, { adapter, transports: ['websocket'] });
    let count = 0;
    io.on('connection', (socket) => {
      socket.on('join', (m: { room: string; id: string }) => {
        void socket.join(m.room);
        socket.emit('joined', { room: m.room });
      });
      socket.on('react', (m: { room: string; reaction: string; seq: number }) => {
        count++;
        io.to(m.room).emit('reaction', { type: 'reaction', room: m.room, reaction: m.reaction, count: m.seq, by: socket.id, n: count });
      });
    });
  }
  http.listen(port, '127.0.0.1');
  // Reports CPU time used while measuring (between SIGUSR2 marks), so server cost per message can be compared.
  let mark = process.cpuUsage();
  process.on('SIGUSR2', () => {
    const used = process.cpuUsage(mark);
    process.stdout.write(`cpu ${(used.user + used.system) / 1000}\n`);
    mark = process.cpuUsage();
  });
  process.on('SIGTERM', () => process.exit(0));
}

// ---- load generator -----------------------------------------------------------------------

interface Harness {
  /** Sends message number `seq` from the sender on instance A. */
  send(seq: number): void;
  /** Called for every delivery: client on instance B?, seq. */
  onDelivery: (crossInstance: boolean, seq: number) => void;
  close(): void;
}

function spawnServer(kind: string, port: number, redisUrl: string, prefix: string): ChildProcess & { cpu: number[] } {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', kind, String(port), redisUrl, prefix], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const cpu: number[] = [];
  let buffered = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    for (const m of buffered.matchAll(/cpu ([\d.]+)\n/g)) cpu.push(Number(m[1]));
    buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
  });
  return Object.assign(child, { cpu });
}

async function redkitHarness(ports: [number, number]): Promise<Harness> {
  const harness: Harness = { send: () => {}, onDelivery: () => {}, close: () => {} };
  const sockets: WebSocket[] = [];
  let joined = 0;
  const open = (port: number, i: number, cross: boolean) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false });
      ws.on('message', (data) => {
        const text = data.toString();
        // Hand-parsed prefix check: JSON.parse on every frame would dominate this process's CPU for the presence traffic.
        if (text.startsWith('{"type":"reaction"')) harness.onDelivery(cross, (JSON.parse(text) as { count: number }).count);
        else if (text.startsWith('{"type":"snapshot"')) joined++;
      });
      ws.once('open', () => {
        ws.send(JSON.stringify({ type: 'join', room: ROOM, id: `c${i}` }));
        resolve(ws);
      });
      ws.once('error', reject);
    });
  for (let i = 0; i < CLIENTS * 2; i++) sockets.push(await open(ports[i % 2]!, i, i % 2 === 1));
  await until(() => joined === CLIENTS * 2, 60_000, 'every redkit client joined');
  const sender = sockets[0]!;
  harness.send = () => sender.send('{"type":"react","room":"bench","reaction":"👍"}');
  harness.close = () => sockets.forEach((s) => s.terminate());
  return harness;
}

async function socketIoHarness(ports: [number, number]): Promise<Harness> {
  const harness: Harness = { send: () => {}, onDelivery: () => {}, close: () => {} };
  const sockets: Socket[] = [];
  let joined = 0;
  for (let i = 0; i < CLIENTS * 2; i++) {
    const cross = i % 2 === 1;
    const socket = ioClient(`http://127.0.0.1:${ports[i % 2]}`, { transports: ['websocket'], forceNew: true, reconnection: false });
    socket.on('reaction', (m: { count: number }) => harness.onDelivery(cross, m.count));
    socket.on('joined', () => {
      joined++;
    });
    socket.on('connect', () => socket.emit('join', { room: ROOM, id: `c${i}` }));
    sockets.push(socket);
    if (i % 50 === 49) await until(() => joined === i + 1, 30_000, 'socket.io clients joined');
  }
  await until(() => joined === CLIENTS * 2, 60_000, 'every socket.io client joined');
  const sender = sockets[0]!;
  harness.send = (seq) => sender.emit('react', { room: ROOM, reaction: '👍', seq });
  harness.close = () => sockets.forEach((s) => s.disconnect());
  return harness;
}

/** Runs the closed loop: at most WINDOW messages in flight; one is done when every client got it. */
async function run(
  name: string,
  harness: Harness,
  seqBase: number,
  servers: ChildProcess[],
): Promise<BenchResult & { messagesPerSec: number; messages: number }> {
  const sentAt = new Map<number, number>();
  const received = new Map<number, number>();
  const latencies: number[] = [];
  let recording = false;
  let deliveries = 0;
  let seq = seqBase;
  let done = 0;
  let resolveDone: () => void = () => {};
  const total = CLIENTS * 2;
  harness.onDelivery = (cross, n) => {
    const at = sentAt.get(n);
    if (at === undefined) return;
    if (recording) {
      deliveries++;
      if (cross) latencies.push(performance.now() - at);
    }
    const got = (received.get(n) ?? 0) + 1;
    received.set(n, got);
    if (got === total) {
      received.delete(n);
      sentAt.delete(n);
      done++;
      resolveDone();
    }
  };
  const sendOne = () => {
    seq++;
    sentAt.set(seq, performance.now());
    harness.send(seq);
  };
  const phase = async (ms: number) => {
    const end = performance.now() + ms;
    for (let i = 0; i < WINDOW; i++) sendOne();
    let messages = 0;
    while (performance.now() < end) {
      await new Promise<void>((r) => {
        resolveDone = r;
      });
      messages++;
      if (performance.now() < end) sendOne();
    }
    await until(() => sentAt.size === 0, 30_000, `${name}: in-flight messages delivered`);
    return messages;
  };
  await phase(Math.min(1000, DURATION_MS / 3));
  recording = true;
  for (const s of servers) s.kill('SIGUSR2');
  const start = performance.now();
  const messages = await phase(DURATION_MS);
  for (const s of servers) s.kill('SIGUSR2');
  const elapsed = (performance.now() - start) / 1000;
  recording = false;
  void done;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return { name, ops: deliveries, opsPerSec: deliveries / elapsed, p50Ms: pct(0.5), p99Ms: pct(0.99), messagesPerSec: messages / elapsed, messages };
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function main(): Promise<void> {
  const redis = await startBenchRedis();
  const target = onCluster ? `cluster:${targetOf(redis).clusterNodes}` : redis.url;
  const socketIoName = onCluster ? 'socket.io + sharded redis-adapter' : 'socket.io + redis-adapter';
  console.log(`# realtime fan-out — ${describeServer(redis)}, node ${process.version}`);
  const results: Array<BenchResult & { messagesPerSec: number; messages: number; serverCpuMsPerMessage: number }> = [];
  try {
    for (const kind of ['redkit', 'socket.io'] as const) {
      const prefix = `bench${Date.now()}`;
      const ports: [number, number] = [await freePort(), await freePort()];
      const servers = ports.map((port) => spawnServer(kind, port, target, prefix));
      try {
        await Promise.all(ports.map((p) => waitForPort(p, 20_000)));
        const harness = kind === 'redkit' ? await redkitHarness(ports) : await socketIoHarness(ports);
        const result = await run(kind === 'redkit' ? 'redkit gateway (reactions)' : socketIoName, harness, 0, servers);
        await new Promise((r) => setTimeout(r, 200));
        const serverCpuMs = servers.reduce((sum, s) => sum + (s.cpu[1] ?? 0), 0);
        results.push({ ...result, serverCpuMsPerMessage: serverCpuMs / Math.max(1, result.messages) });
        harness.close();
      } finally {
        for (const s of servers) s.kill('SIGTERM');
        await Promise.all(servers.map((s) => new Promise((r) => (s.exitCode !== null ? r(null) : s.once('exit', r)))));
      }
    }
  } finally {
    await stopRedis(redis);
  }
  printTable(
    `fan-out: 2 instances × ${CLIENTS} clients, 1 sender on A, ${WINDOW} messages in flight; ops = frames delivered, latency at B's clients`,
    results,
    socketIoName,
  );
  for (const r of results)
    console.log(
      `${r.name.padEnd(44)} ${r.messagesPerSec.toFixed(0).padStart(8)} messages/s fanned out to ${CLIENTS * 2} clients; both servers' CPU ${r.serverCpuMsPerMessage.toFixed(2)} ms per message`,
    );
}

if (process.argv[2] === '--serve') await serve(process.argv[3]!, Number(process.argv[4]), process.argv[5]!, process.argv[6]!);
else await main();

// Observers' ping→pong latency on one gateway process, without and with an abuse burst: many
// connections each sending their whole burst (40 messages, default limits 20/s burst 40) at
// the same moment, every 2 s (when their bucket has refilled, so nothing is even rejected).
//   node dist/bench/realtime-flood.js     (BENCH_MS=6000 per scenario, BENCH_OBSERVERS=20, BENCH_ABUSERS=200,
//                                          BENCH_ABUSE=ping|react, BENCH_PER_TURN=<messagesPerTurn>)
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startRedis, stopRedis, freePort, waitForPort } from '../test/helpers/redis-server.js';

const DURATION_MS = Number(process.env.BENCH_MS ?? 6000);
const OBSERVERS = Number(process.env.BENCH_OBSERVERS ?? 20);
const ABUSERS = Number(process.env.BENCH_ABUSERS ?? 200);
const BURST = 40;
/** What abusers burst: `ping` (parse + answer) or `react` (a Redis script and a broadcast each). */
const ABUSE = process.env.BENCH_ABUSE === 'react' ? 'react' : 'ping';
// 10 pings/s: observers stay under the default limit (20/s).
const PING_EVERY_MS = 100;

async function serve(port: number, redisUrl: string, prefix: string): Promise<void> {
  const { createRedkit, createGateway, silentLogger } = await import('../src/index.js');
  const kit = await createRedkit({ url: redisUrl, keyPrefix: prefix, logger: silentLogger, env: {} });
  const http = createServer();
  // Default limits (20 msgs/s, burst 40); BENCH_PER_TURN tries another messagesPerTurn.
  const options: Record<string, number> = {};
  if (process.env.BENCH_PER_TURN) options.messagesPerTurn = Number(process.env.BENCH_PER_TURN);
  createGateway(kit, options).attach(http);
  http.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function open(port: number, room: string, id: string, onFrame?: (text: string) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false });
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('{"type":"snapshot"')) resolve(ws);
      onFrame?.(text);
    });
    ws.once('open', () => ws.send(JSON.stringify({ type: 'join', room, id })));
    ws.once('error', reject);
  });
}

async function scenario(port: number, name: string, abuse: boolean): Promise<{ name: string; pings: number; p50: number; p99: number; max: number }> {
  const rtts: number[] = [];
  const sentAt = new Map<string, number>();
  const observers = await Promise.all(
    Array.from({ length: OBSERVERS }, (_, i) =>
      open(port, 'watch', `o${i}`, (text) => {
        if (!text.startsWith('{"type":"pong"')) return;
        const ref = (JSON.parse(text) as { ref: string }).ref;
        const t = sentAt.get(ref);
        if (t !== undefined) {
          rtts.push(performance.now() - t);
          sentAt.delete(ref);
        }
      }),
    ),
  );
  const abusers: WebSocket[] = [];
  if (abuse) for (let i = 0; i < ABUSERS; i++) abusers.push(await open(port, `abuse-${i % 20}`, `a${i}`));
  await sleep(2100); // every bucket full
  let seq = 0;
  const pinger = setInterval(() => {
    for (const ws of observers) {
      const ref = `p${seq++}`;
      sentAt.set(ref, performance.now());
      ws.send(`{"type":"ping","ref":"${ref}"}`);
    }
  }, PING_EVERY_MS);
  const frame = ABUSE === 'react' ? '{"type":"react","room":"ROOM","reaction":"👍"}' : '{"type":"ping","ref":"ROOM"}';
  const burster = abuse
    ? setInterval(() => {
        abusers.forEach((ws, i) => {
          const f = frame.replace('ROOM', `abuse-${i % 20}`);
          for (let n = 0; n < BURST; n++) ws.send(f);
        });
      }, 2050)
    : null;
  await sleep(DURATION_MS);
  clearInterval(pinger);
  if (burster) clearInterval(burster);
  await sleep(500);
  for (const ws of [...observers, ...abusers]) ws.terminate();
  rtts.sort((a, b) => a - b);
  const pct = (p: number) => rtts[Math.min(rtts.length - 1, Math.floor(rtts.length * p))] ?? NaN;
  return { name, pings: rtts.length, p50: pct(0.5), p99: pct(0.99), max: rtts.at(-1) ?? NaN };
}

async function main(): Promise<void> {
  if (process.argv[2] === '--serve') return serve(Number(process.argv[3]), process.argv[4]!, process.argv[5]!);
  const redis = await startRedis();
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', String(port), redis.url, `bench${Date.now()}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    await waitForPort(port, 20_000);
    await sleep(500);
    const rows = [await scenario(port, 'observers only', false), await scenario(port, `+ ${ABUSERS} conns × ${BURST} ${ABUSE} every 2 s`, true)];
    console.log(`observers: ${OBSERVERS}, ping every ${PING_EVERY_MS} ms each, ${DURATION_MS} ms per scenario; server in its own process`);
    console.log('scenario'.padEnd(42) + 'pings'.padStart(8) + 'p50 ms'.padStart(9) + 'p99 ms'.padStart(9) + 'max ms'.padStart(9));
    for (const r of rows)
      console.log(r.name.padEnd(42) + String(r.pings).padStart(8) + r.p50.toFixed(1).padStart(9) + r.p99.toFixed(1).padStart(9) + r.max.toFixed(1).padStart(9));
  } finally {
    child.kill('SIGTERM');
    await stopRedis(redis);
  }
}

await main();

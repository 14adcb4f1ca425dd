// Idle cost: commands per minute that the reference server (and its worker) send to Redis
// with no clients at all, read from `INFO commandstats` (delta over the window, scaled to a
// minute), with a breakdown per command. Each configuration runs on its own fresh redis-server.
//   BENCH_MS=30000 node dist/bench/idle.js            (window per configuration; default 30 s)
//   BENCH_ONLY=server,server+worker node dist/bench/idle.js
// The warm-up (BENCH_WARMUP_MS, default 35 s) outlasts the maintenance lease: on a fresh Redis
// the lock refuses grants for one lease (restart guard), so the leader renews only after it.
// Configurations are env variables of the reference server (app/), so each row is what a user
// running `npm start` / `npm run worker` with that setting would pay.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startRedis, stopRedis, freePort, waitForPort } from '../test/helpers/redis-server.js';

const WINDOW_MS = Number(process.env.BENCH_MS ?? 30_000);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 35_000);
const APP = fileURLToPath(new URL('../app/main.js', import.meta.url));
const WORKER = fileURLToPath(new URL('../app/worker.js', import.meta.url));

interface Config {
  name: string;
  worker: boolean;
  env: Record<string, string>;
}

/**
 * Today's defaults, and the settings a user can change from env. The code before the idle-cost
 * work (1 s PING, 500 ms presence reaper with no rooms, 5 s rate-limit heartbeat) is measured
 * by running this file on that commit (README, "Running on a pay-per-command Redis").
 */
const CONFIGS: Config[] = [
  { name: 'server', worker: false, env: {} },
  { name: 'server+worker', worker: true, env: {} },
  { name: 'server (lease 10 s)', worker: false, env: { LEADER_LEASE_MS: '10000' } },
  { name: 'server+worker (stalled check 30 s)', worker: true, env: { WORKER_STALLED_INTERVAL_MS: '30000' } },
  { name: 'server+worker (drain delay 5 s, BullMQ default)', worker: true, env: { WORKER_DRAIN_DELAY_MS: '5000' } },
];

function spawnNode(file: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [file], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** `INFO commandstats` as command → calls. */
async function commandStats(client: Redis): Promise<Map<string, number>> {
  const text = await client.info('commandstats');
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

async function run(config: Config): Promise<{ perMinute: number; topLevel: number; breakdown: Array<[string, number]> }> {
  const server = await startRedis();
  const port = await freePort();
  const env = { REDIS_URL: server.url, PORT: String(port), HOST: '127.0.0.1', ...config.env };
  const children = [spawnNode(APP, env)];
  if (config.worker) children.push(spawnNode(WORKER, env));
  const observer = new Redis(server.url, { lazyConnect: true });
  try {
    await waitForPort(port, 15_000);
    await observer.connect();
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    // commandstats also counts the commands a script runs inside; a per-command bill (Upstash)
    // counts the script once, so MONITOR counts top-level commands (source not "lua") alongside.
    const monitor = await observer.duplicate().monitor();
    let topLevel = 0;
    let counting = false;
    monitor.on('monitor', (_time: string, _args: string[], source: string) => {
      if (counting && source !== 'lua') topLevel++;
    });
    const before = await commandStats(observer);
    counting = true;
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    counting = false;
    const after = await commandStats(observer);
    monitor.disconnect();
    // The observer's own INFO call is excluded: it is the one call of the window that is ours.
    const breakdown: Array<[string, number]> = [];
    let total = 0;
    for (const [name, calls] of after) {
      const delta = calls - (before.get(name) ?? 0) - (name === 'info' ? 1 : 0);
      if (delta <= 0) continue;
      const perMinute = (delta * 60_000) / WINDOW_MS;
      total += perMinute;
      breakdown.push([name, Math.round(perMinute * 10) / 10]);
    }
    breakdown.sort((a, b) => b[1] - a[1]);
    return { perMinute: Math.round(total * 10) / 10, topLevel: Math.round((((topLevel - 1) * 60_000) / WINDOW_MS) * 10) / 10, breakdown };
  } finally {
    observer.disconnect();
    await Promise.all(children.map(stopChild));
    await stopRedis(server);
  }
}

const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
console.log(`idle cost: commands per minute over ${WINDOW_MS / 1000} s windows (after ${WARMUP_MS / 1000} s warm-up), INFO commandstats delta`);
console.log('| configuration | top-level commands/min (MONITOR) | per day | commandstats/min (incl. inside scripts) | breakdown (commandstats, per min) |');
console.log('|---|---:|---:|---:|---|');
for (const config of CONFIGS) {
  if (only && !only.includes(config.name)) continue;
  const { perMinute, topLevel, breakdown } = await run(config);
  const detail = breakdown.map(([n, v]) => `${n} ${v}`).join(', ');
  console.log(`| ${config.name} | ${topLevel} | ${Math.round(topLevel * 1440).toLocaleString('en-US')} | ${perMinute} | ${detail} |`);
}

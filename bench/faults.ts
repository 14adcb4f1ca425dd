// bench/faults: request latency of the reference server while Redis is paused (SIGSTOP: the TCP
// connection stays open, nothing answers) next to Redis killed (kill -9), with the default
// command timeout (2000 ms). `POST /api/moderate` (a rate-limit call, then a cache read) at a
// fixed rate, open loop: each request's latency counts from when it was due, so a stall that
// holds requests back is not hidden (no coordinated omission).
// `FAULT_RATE=200 FAULT_MS=5000 node dist/bench/faults.js`.
import { pino } from 'pino';
import { Redkit } from '../src/index.js';
import { buildServer } from '../app/server.js';
import { readSettings } from '../app/settings.js';
import { startRedis, stopRedis, type RedisServer } from '../test/helpers/redis-server.js';

const RATE = Number(process.env.FAULT_RATE ?? 200);
const PHASE_MS = Number(process.env.FAULT_MS ?? 5000);
const TEXTS = Array.from({ length: 50 }, (_, i) => `a perfectly ordinary message number ${i}`);

interface Row {
  name: string;
  sent: number;
  ok: number;
  p50: number;
  p99: number;
  max: number;
  over1s: number;
  recoverMs: number | null;
  disconnects: number;
  detectMs?: number;
}

const server = await startRedis();
const kit = new Redkit({ url: server.url, keyPrefix: 'bench', env: {}, logger: { debug() {}, info() {}, warn() {}, error() {} } });
await kit.ready();
// Disconnects seen while a row ran: with Redis up this must stay 0 (a busy Redis is not a stall).
let disconnects = 0;
kit.connection.on('disconnected', () => {
  disconnects++;
});
const settings = readSettings({ PORT: '0', HOST: '127.0.0.1', RATE_LIMIT_MODERATE: '1000000/1s', MODERATION_DELAY_MS: '5' });
const app = await buildServer(kit, settings, pino({ level: 'silent' }));
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/api/moderate`;

/** Sends RATE requests/s for `ms`; returns each request's latency from its due time, and failures. */
async function load(ms: number): Promise<{ latencies: number[]; ok: number; disconnects: number }> {
  const before = disconnects;
  const latencies: number[] = [];
  let ok = 0;
  const pending: Array<Promise<void>> = [];
  const start = performance.now();
  const total = Math.round((ms / 1000) * RATE);
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: TEXTS[i % TEXTS.length] }) })
        .then(async (res) => {
          await res.arrayBuffer();
          if (res.ok) ok++;
        })
        .catch(() => undefined)
        .finally(() => {
          latencies.push(performance.now() - due);
        }),
    );
  }
  await Promise.all(pending);
  return { latencies, ok, disconnects: disconnects - before };
}

async function waitConnected(): Promise<number> {
  const started = performance.now();
  while (kit.mode !== 'redis') {
    if (performance.now() - started > 30_000) throw new Error('Redis did not come back within 30 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - started;
}

function row(name: string, result: { latencies: number[]; ok: number; disconnects: number }, recoverMs: number | null): Row {
  const l = result.latencies.sort((a, b) => a - b);
  const pct = (p: number) => l[Math.min(l.length - 1, Math.floor(l.length * p))] ?? 0;
  return {
    name,
    sent: l.length,
    ok: result.ok,
    p50: pct(0.5),
    p99: pct(0.99),
    max: l.at(-1) ?? 0,
    over1s: l.filter((x) => x > 1000).length,
    recoverMs,
    disconnects: result.disconnects,
  };
}

async function phase(name: string, fault: (s: RedisServer) => Promise<void> | void, heal: (s: RedisServer) => Promise<void> | void): Promise<Row> {
  await waitConnected();
  await load(1000); // warm: the cache holds every text
  const before = disconnects;
  let faultAt = 0;
  const detected = new Promise<number>((resolve) => kit.connection.once('disconnected', () => resolve(performance.now() - faultAt)));
  faultAt = performance.now();
  await fault(server);
  const result = { ...(await load(PHASE_MS)), disconnects: 0 };
  result.disconnects = disconnects - before;
  // From SIGCONT, or from the restarted server accepting connections, to the kit connected.
  await heal(server);
  return { ...row(name, result, Math.round(await waitConnected())), detectMs: Math.round(await detected) };
}

const rows: Row[] = [];
await load(3000); // warm-up: JIT, HTTP keep-alive connections, the cache
rows.push(row('Redis up', await load(PHASE_MS), null));
rows.push(
  await phase(
    'Redis paused (SIGSTOP)',
    (s) => s.pause(),
    (s) => s.resume(),
  ),
);
rows.push(
  await phase(
    'Redis killed (kill -9)',
    (s) => s.kill(),
    (s) => s.start(),
  ),
);
await waitConnected();
rows.push(row('Redis up again', await load(PHASE_MS), null));

console.log(
  `POST /api/moderate at ${RATE} req/s for ${PHASE_MS} ms per row, default commandTimeoutMs ${kit.config.commandTimeoutMs}, stall threshold ${(kit.connection as { stallMs?: number }).stallMs ?? 'none'} ms`,
);
console.log(
  '| case | requests | 2xx | p50 ms | p99 ms | max ms | > 1 s | disconnects | reported disconnected after (ms) | connected again after SIGCONT / restart (ms) |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.sent} | ${r.ok} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} | ${r.over1s} | ${r.disconnects} | ${r.detectMs ?? '—'} | ${r.recoverMs ?? '—'} |`,
  );
}
await app.close();
await kit.close();
await stopRedis(server);

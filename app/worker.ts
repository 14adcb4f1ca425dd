// The worker process (`npm run worker`): runs the demo queues' jobs from Redis, so that the API
// and the workers scale separately. Uses only redkit's public API.
import { pino } from 'pino';
import { createRedkit } from 'redkit';
import { demoProcessors } from './routes/queue.js';

const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { pid: process.pid, role: 'worker' } });
const kit = await createRedkit({ logger: log.child({ component: 'redkit' }) });
if (kit.mode === 'standalone') {
  log.error('REDIS_URL / REDIS_HOST not set: a separate worker needs Redis. Without Redis the API runs jobs in its own process.');
  await kit.close();
  process.exit(1);
}
const concurrency = Number(process.env.WORKER_CONCURRENCY ?? 4);
// On SIGTERM running jobs get this long to finish; the ones still running are handed back to
// the queue for another worker. Keep it under the platform's grace period (Kubernetes: 30 s).
const closeTimeoutMs = Number(process.env.WORKER_CLOSE_TIMEOUT_MS ?? 25_000);
// How often each queue looks for a crashed worker's jobs: one script call per queue per period
// (5 s: 12 a minute per queue, the largest idle cost left; bench/idle.ts). Longer is cheaper
// and re-runs a killed worker's jobs later (within lockDurationMs + 2 periods).
const stalledIntervalMs = process.env.WORKER_STALLED_INTERVAL_MS ? Number(process.env.WORKER_STALLED_INTERVAL_MS) : undefined;
// How long one blocking wait for a job lasts on an idle queue (default 30 s: 4 commands a minute
// per queue); a new job ends the wait at once, so shorter only polls more.
const drainDelayMs = process.env.WORKER_DRAIN_DELAY_MS ? Number(process.env.WORKER_DRAIN_DELAY_MS) : undefined;
const workers = Object.entries(demoProcessors).map(([name, handler]) =>
  kit.worker(name, handler, { concurrency, closeTimeoutMs, stalledIntervalMs, drainDelayMs }),
);
log.info(
  { queues: workers.map((w) => w.queue), concurrency, mode: kit.mode, instanceId: kit.instanceId },
  `worker started for ${workers.length} queue(s)${kit.mode === 'degraded' ? ' (Redis unreachable: waiting for it)' : ''}`,
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal, closeTimeoutMs }, 'worker shutting down: letting running jobs finish');
  // kit.close() is bounded by closeTimeoutMs plus a few seconds; this is the last resort.
  const force = setTimeout(() => {
    log.error(`shutdown took over ${closeTimeoutMs + 10_000} ms; exiting`);
    process.exit(1);
  }, closeTimeoutMs + 10_000);
  force.unref();
  await kit.close();
  log.info('worker stopped cleanly');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

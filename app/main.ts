// The reference server: `npm start`. Uses only redkit's public API, like a user would.
import { pino } from 'pino';
import { Redkit } from 'redkit';
import { buildServer } from './server.js';
import { readSettings } from './settings.js';

const settings = readSettings();
const log = pino({ level: settings.logLevel, base: { pid: process.pid } });

// The server listens before Redis answers: /api/health reports the truth (degraded while
// connecting) from the first moment, and startup never waits on Redis.
const kit = new Redkit({ logger: log.child({ component: 'redkit' }) });
const app = await buildServer(kit, settings, log);

// Installed before listening and before Redis answers: a deploy's SIGTERM can arrive while the
// first connect is still under way (the platform gave up waiting on /api/health/ready).
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  // A stuck close must not keep the process alive forever.
  const force = setTimeout(() => {
    log.error('shutdown took over 10 s; exiting');
    process.exit(1);
  }, 10_000);
  force.unref();
  try {
    await app.close();
    await kit.close();
    log.info('stopped cleanly');
    process.exit(0);
  } catch (err) {
    log.error({ err }, 'shutdown failed');
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

await app.listen({ port: settings.port, host: settings.host });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : settings.port;
await kit.ready();
if (kit.mode === 'standalone') log.warn('Redis not configured (REDIS_URL / REDIS_HOST unset) - running in standalone mode: all state is in this process');
else if (kit.mode === 'degraded')
  log.warn(
    { reason: kit.connection.lastError?.reason, hint: kit.connection.lastError?.hint },
    'Redis configured but unreachable - serving degraded, reconnecting in the background',
  );
log.info({ mode: kit.mode, instanceId: kit.instanceId, port, redis: kit.config.target }, `redkit reference server listening on :${port} in ${kit.mode} mode`);

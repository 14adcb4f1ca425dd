import type { RedisClient } from '../connection/cluster.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import { observeScripts } from '../connection/scripts.js';
import type { Metrics } from './index.js';
import { connectionMetrics } from './instruments.js';
import { labelClientCommands, scriptLabel } from './spans.js';
import type { HistogramSeries } from './registry.js';

type Mode = 'standalone' | 'redis' | 'degraded';

/**
 * Feeds the connection's metrics and events from its own events (state, restart) and its
 * shared client (script round trips, labelled command contexts), so the connection itself
 * carries no metrics code. `mode` is the toolkit's mode, derived from the state.
 */
export function instrumentConnection(metrics: Metrics, connection: RedisConnection, mode: () => Mode): void {
  const m = connectionMetrics(metrics, {
    state: () => connection.state,
    mode,
    // The last background probe's PING: a scrape sends no command.
    latencyMs: async () => connection.healthNow().latency,
  });
  let lastMode = mode();
  const timed = new WeakSet<RedisClient>();
  const scripts = new Map<string, HistogramSeries>();
  connection.on('state', (next: string, previous: string) => {
    m.state(previous, next);
    const now = mode();
    if (now !== lastMode) {
      const from = lastMode;
      lastMode = now;
      m.mode(from, now, connection.lastError?.reason);
    }
    const client = connection.client;
    if (next === 'connected' && client && !timed.has(client)) {
      timed.add(client);
      labelClientCommands(client);
      observeScripts(client, (name, seconds) => {
        let series = scripts.get(name);
        if (!series) {
          const label = scriptLabel(name);
          scripts.set(name, (series = m.script(label.capability, label.operation)));
        }
        series.observe(seconds);
      });
    }
  });
  connection.on('restart', (event: { via: 'run_id' | 'marker' }) => m.restart(event.via));
}

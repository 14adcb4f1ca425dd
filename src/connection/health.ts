// What `kit.health()` reports about the connection: its shape and how it is built from the
// connection's state. Kept apart from redis-connection.ts, which decides that state.
import type { ClassifiedError } from './classify.js';
import type { HealthWarning } from './server-identity.js';
import type { ServerRole } from './sentinel.js';

/** Where the shared connection stands. */
export type ConnectionState = 'not_configured' | 'connecting' | 'connected' | 'disconnected';

/** `kit.health()`: the seed 002 `redis` object plus when the state began and the last error. */
export interface RedisHealth {
  status: 'connected' | 'disconnected' | 'not_configured';
  message: string;
  /** PING round trip in ms, or null when not connected. */
  latency: number | null;
  /** When the current status began (ISO 8601). */
  since: string;
  lastError: (ClassifiedError & { at: string }) | null;
  /** When a restart (new `run_id`) or lost data (marker key gone) was last seen (ISO 8601), or null. */
  lastRestartAt: string | null;
  /** Server settings that put redkit's state at risk (e.g. an evicting `maxmemory-policy`). */
  warnings: HealthWarning[];
  /** What redkit sees: the configured kind, the master it writes to, and that server's `ROLE`. */
  topology: RedisTopologyHealth;
}

/** `health().topology`. */
export interface RedisTopologyHealth {
  /** `memory` in standalone mode. */
  kind: 'memory' | 'single' | 'sentinel' | 'cluster';
  /** `host:port` of the server the shared client is connected to, or null while not connected. */
  master: string | null;
  /** That server's answer to `ROLE`, or null when unknown (not connected, or ROLE not permitted). */
  role: ServerRole | null;
  /** When the sentinels last moved the master under redkit (ISO 8601), or null. */
  lastFailoverAt: string | null;
  /** Cluster only: the masters of the slot map (`host:port`) as of the last probe. */
  masters?: string[];
  /** Cluster only: slot ranges with no answering master (`0-5460 (127.0.0.1:7000)`), or null when every slot is served. */
  unservedSlots?: string | null;
}

/** What the connection knows when it is asked for health. */
export interface HealthInput {
  mode: 'redis' | 'standalone';
  /** True when Redis is usable (state `connected`). */
  ready: boolean;
  since: Date;
  latency: number | null;
  lastError: (ClassifiedError & { at: string }) | null;
  lastRestartAt: string | null;
  warnings: readonly HealthWarning[];
  topology: RedisTopologyHealth;
}

/** The seed 002 health object from the connection's state (never waits on Redis). */
export function buildHealth(input: HealthInput): RedisHealth {
  const common = { since: input.since.toISOString(), lastRestartAt: input.lastRestartAt, warnings: [...input.warnings], topology: input.topology };
  if (input.mode === 'standalone') {
    return { status: 'not_configured', message: 'Redis not configured: running standalone (in-memory)', latency: null, lastError: null, ...common };
  }
  // A cluster with unserved slots still serves the rest (ready), but it is not healthy.
  if (input.ready && !input.topology.unservedSlots)
    return { status: 'connected', message: 'Redis connection healthy', latency: input.latency, lastError: input.lastError, ...common };
  const last = input.lastError;
  return {
    status: 'disconnected',
    message: last ? `${last.message} — ${last.hint}` : 'Redis configured but not connected yet',
    latency: null,
    lastError: last,
    ...common,
  };
}

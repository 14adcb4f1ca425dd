import type { RedkitContext } from '../context.js';
import { toMs, type Duration } from '../duration.js';
import { ClosedError, InvalidArgumentError } from '../errors.js';
import { assertOptions } from '../options.js';
import type { Bus } from './bus.js';
import { MemoryBus } from './memory-bus.js';
import { MemoryPresence } from './memory-presence.js';
import { MemoryReactions } from './memory-reactions.js';
import type { Presence, PresenceOptions } from './presence.js';
import type { Reactions } from './reactions.js';
import { RedisBus } from './redis-bus.js';
import { RedisPresence } from './redis-presence.js';
import { presenceMetrics } from '../metrics/instruments.js';
import { RedisReactions } from './redis-reactions.js';

/** Options of the realtime capability. */
export interface RealtimeOptions extends PresenceOptions {
  /** Log every join, leave, reap and resync at info level (the seed's `DEBUG_PRESENCE=1`). Default false. */
  debug?: boolean;
  /**
   * How long a room's reaction counts stay in Redis once nobody reacts in it and no instance
   * watches it (nobody is in it). Ms or a duration string (`'1h'`). Default 3600000 (1 hour); 1000 to 30 days.
   */
  reactionsIdleTtlMs?: Duration;
}

/** RealtimeOptions as validated: every duration in ms. */
export interface ResolvedRealtimeOptions {
  debug?: boolean;
  heartbeatTtlMs?: number;
  heartbeatIntervalMs?: number;
  reapIntervalMs?: number;
  reactionsIdleTtlMs?: number;
}

const OPTION_KEYS = ['debug', 'heartbeatTtlMs', 'heartbeatIntervalMs', 'reapIntervalMs', 'reactionsIdleTtlMs'] as const;

/**
 * The realtime capability of one toolkit: `bus`, `presence` and `reactions`, over Redis when
 * it is configured and in-process in standalone mode. Each part is created on first use.
 */
export class Realtime {
  readonly #ctx: RedkitContext;
  #options: ResolvedRealtimeOptions;
  #bus: Bus | null = null;
  #presence: Presence | null = null;
  #reactions: Reactions | null = null;
  #closed = false;

  constructor(ctx: RedkitContext, options: RealtimeOptions = {}) {
    this.#ctx = ctx;
    this.#options = validate(options);
    presenceMetrics(ctx.metrics, () => this.#presence?.stats() ?? null);
  }

  /** Changes options before first use (e.g. a shorter heartbeat in tests). @throws InvalidArgumentError once presence exists. */
  configure(options: RealtimeOptions): this {
    if (this.#presence || this.#reactions)
      throw new InvalidArgumentError(
        'options',
        'realtime options must be set before presence or reactions are first used (call kit.realtime.configure() at startup)',
      );
    this.#options = validate({ ...this.#options, ...options });
    return this;
  }

  /** The options in force (durations in ms). */
  get options(): Readonly<ResolvedRealtimeOptions> {
    return this.#options;
  }

  /** True when running in-process (no Redis configured). */
  get standalone(): boolean {
    return this.#ctx.config.mode === 'standalone';
  }

  /** The pub/sub bus. */
  get bus(): Bus {
    this.#assertOpen();
    this.#bus ??= this.standalone ? new MemoryBus(this.#ctx.instanceId, this.#ctx.logger) : new RedisBus(this.#ctx);
    return this.#bus;
  }

  /** Presence: members per room across instances. */
  get presence(): Presence {
    this.#assertOpen();
    this.#presence ??= this.standalone ? new MemoryPresence(this.#ctx.instanceId) : new RedisPresence(this.#ctx, this.bus as RedisBus, this.#options);
    return this.#presence;
  }

  /** Reaction counters per room across instances. */
  get reactions(): Reactions {
    this.#assertOpen();
    this.#reactions ??= this.standalone
      ? new MemoryReactions(this.#ctx.instanceId)
      : new RedisReactions(this.#ctx, this.bus as RedisBus, { idleTtlMs: this.#options.reactionsIdleTtlMs });
    return this.#reactions;
  }

  /** Closes presence (withdrawing this instance's members), reactions and the bus. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#presence?.close();
    await this.#reactions?.close();
    await this.#bus?.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError('realtime');
  }
}

function validate(options: RealtimeOptions): ResolvedRealtimeOptions {
  assertOptions(options, OPTION_KEYS, 'realtime options');
  const out: ResolvedRealtimeOptions = { debug: options.debug };
  if (options.debug === undefined) delete out.debug;
  for (const name of ['heartbeatTtlMs', 'heartbeatIntervalMs', 'reapIntervalMs'] as const) {
    if (options[name] !== undefined) out[name] = toMs(options[name], name, { min: 50, max: 3_600_000 });
  }
  if (options.reactionsIdleTtlMs !== undefined)
    out.reactionsIdleTtlMs = toMs(options.reactionsIdleTtlMs, 'reactionsIdleTtlMs', { min: 1000, max: 30 * 86_400_000 });
  if (out.heartbeatTtlMs !== undefined && out.heartbeatIntervalMs !== undefined && out.heartbeatIntervalMs >= out.heartbeatTtlMs) {
    throw new InvalidArgumentError('heartbeatIntervalMs', 'heartbeatIntervalMs must be shorter than heartbeatTtlMs, or a live instance would look dead');
  }
  return out;
}

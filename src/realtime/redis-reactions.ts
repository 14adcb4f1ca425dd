import { EventEmitter } from 'node:events';
import type { RedkitContext } from '../context.js';
import { RedisUnavailableError } from '../errors.js';
import type { BusMessage } from './bus.js';
import { assertMemberId, assertRoom } from './presence.js';
import { assertReaction, MAX_REACTIONS_PER_ROOM, tooManyReactions, type ReactionCounts, type Reactions, type ReactionsEventMap } from './reactions.js';
import type { RedisBus } from './redis-bus.js';
import { scripted } from './scripts.js';

/** The bus channel reaction events travel on (seed 004's `reactions:events`). */
export const REACTIONS_CHANNEL = 'reactions:events';

type ReactionWire = { type: 'reaction'; room: string; reaction: string; count: number; by: string };

/**
 * Reactions over Redis: one hash per room (`<room>:reactions`, under the room's hash tag),
 * incremented and published by one script. Degraded, reactions are counted locally and the
 * deltas are added to Redis on recovery; watched rooms are then re-read from Redis.
 */
export class RedisReactions extends EventEmitter<ReactionsEventMap> implements Reactions {
  readonly #ctx: RedkitContext;
  readonly #bus: RedisBus;
  readonly #views = new Map<string, { refs: number; counts: Map<string, number> }>();
  /** Local reactions that could not reach Redis: room → reaction → delta. */
  readonly #pending = new Map<string, Map<string, number>>();
  readonly #subscribed: Promise<() => Promise<void>>;
  readonly #removeResync: () => void;
  readonly #onConnected = () => this.#scheduleRecover();
  #recovering: Promise<void> | null = null;
  #again = false;
  #closed = false;

  constructor(ctx: RedkitContext, bus: RedisBus) {
    super();
    this.#ctx = ctx;
    this.#bus = bus;
    this.#subscribed = bus.subscribe<ReactionWire>(REACTIONS_CHANNEL, (m) => this.#receive(m));
    this.#subscribed.catch(() => undefined);
    this.#removeResync = bus.onResync(() => this.#scheduleRecover());
    ctx.connection.on('connected', this.#onConnected);
  }

  #key(room: string) { return this.#ctx.keys.tagged('realtime', room, 'reactions'); }

  async react(room: string, reaction: string, by = ''): Promise<number> {
    assertRoom(room);
    assertReaction(reaction);
    if (by !== '') assertMemberId(by);
    try {
      const count = await this.#add(room, reaction, 1, by);
      this.#apply(room, reaction, count, by, this.#ctx.instanceId);
      return count;
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
    }
    // Degraded: count here, send the delta to Redis on recovery.
    const known = this.#views.get(room)?.counts;
    if (known && !known.has(reaction) && known.size >= MAX_REACTIONS_PER_ROOM) throw tooManyReactions(room);
    let pending = this.#pending.get(room);
    if (!pending) this.#pending.set(room, (pending = new Map()));
    pending.set(reaction, (pending.get(reaction) ?? 0) + 1);
    const count = (known?.get(reaction) ?? 0) + 1;
    this.#apply(room, reaction, count, by, this.#ctx.instanceId);
    return count;
  }

  async counts(room: string): Promise<ReactionCounts> {
    assertRoom(room);
    if (!this.#ctx.connection.isReady) return this.view(room);
    try {
      const counts = await this.#read(room);
      this.#replace(room, counts);
      return Object.fromEntries(counts);
    } catch (err) {
      if (err instanceof RedisUnavailableError) return this.view(room);
      throw err;
    }
  }

  async watch(room: string): Promise<() => void> {
    assertRoom(room);
    const existing = this.#views.get(room);
    if (existing) existing.refs++;
    else {
      this.#views.set(room, { refs: 1, counts: new Map() });
      if (this.#ctx.connection.isReady) {
        try {
          this.#replace(room, await this.#read(room), false);
        } catch (err) {
          if (!(err instanceof RedisUnavailableError)) throw err;
        }
      }
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const v = this.#views.get(room);
      if (v && --v.refs <= 0) this.#views.delete(room);
    };
  }

  view(room: string): ReactionCounts {
    return Object.fromEntries(this.#views.get(room)?.counts ?? []);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#ctx.connection.off('connected', this.#onConnected);
    this.#removeResync();
    await (await this.#subscribed.catch(() => async () => {}))().catch(() => undefined);
    this.#views.clear();
    this.removeAllListeners();
  }

  async #add(room: string, reaction: string, delta: number, by: string): Promise<number> {
    const result = await this.#ctx.connection.run(async (client) => (await scripted(client)).redkitReactionsAddV1(this.#key(room), reaction, delta, this.#bus.redisChannel(REACTIONS_CHANNEL), this.#ctx.instanceId, room, Date.now(), by, MAX_REACTIONS_PER_ROOM));
    const count = Number(result);
    if (count < 0) throw tooManyReactions(room);
    return count;
  }

  async #read(room: string): Promise<Map<string, number>> {
    const raw = await this.#ctx.connection.run((client) => client.hgetall(this.#key(room)));
    return new Map(Object.entries(raw).map(([reaction, n]) => [reaction, Number(n) || 0]));
  }

  #receive(message: BusMessage<ReactionWire>): void {
    const d = message.data;
    if (!d || d.type !== 'reaction' || typeof d.room !== 'string' || typeof d.reaction !== 'string' || typeof d.count !== 'number') return;
    this.#apply(d.room, d.reaction, d.count, typeof d.by === 'string' ? d.by : '', message.from);
  }

  #apply(room: string, reaction: string, count: number, by: string, from: string): void {
    this.#views.get(room)?.counts.set(reaction, count);
    this.emit('reaction', { room, reaction, count, by, from });
  }

  /** Replaces a watched room's counts; emits `counts` when they differ (and `emit` is set). */
  #replace(room: string, counts: Map<string, number>, emit = true): void {
    const view = this.#views.get(room);
    if (!view) return;
    const same = view.counts.size === counts.size && [...counts].every(([r, n]) => view.counts.get(r) === n);
    view.counts = counts;
    if (!same && emit) this.emit('counts', { room, counts: Object.fromEntries(counts) });
  }

  #scheduleRecover(): void {
    if (this.#closed) return;
    if (this.#recovering) {
      this.#again = true;
      return;
    }
    this.#recovering = this.#recover()
      .catch((err) => this.#ctx.logger.warn({ err: String((err as Error)?.message ?? err) }, '[realtime] reactions resync failed; retried on the next reconnect'))
      .finally(() => {
        this.#recovering = null;
        if (this.#again) {
          this.#again = false;
          this.#scheduleRecover();
        }
      });
  }

  /** Sends the deltas counted while degraded, then re-reads every watched room. */
  async #recover(): Promise<void> {
    if (!this.#ctx.connection.isReady) return;
    for (const [room, deltas] of [...this.#pending]) {
      for (const [reaction, delta] of [...deltas]) {
        deltas.delete(reaction);
        try {
          await this.#add(room, reaction, delta, '');
        } catch (err) {
          if (err instanceof RedisUnavailableError) {
            deltas.set(reaction, (deltas.get(reaction) ?? 0) + delta);
            throw err;
          }
          // Too many kinds now: the delta cannot be stored; dropping it is the only way forward.
        }
      }
      if (deltas.size === 0) this.#pending.delete(room);
    }
    for (const room of this.#views.keys()) this.#replace(room, await this.#read(room));
  }
}

import { EventEmitter } from 'node:events';
import type { RedkitContext } from '../context.js';
import { RedisUnavailableError, RedkitError } from '../errors.js';
import type { BusMessage } from './bus.js';
import { assertMemberId, assertRoom } from './presence.js';
import {
  assertReaction,
  DEFAULT_REACTIONS_IDLE_TTL_MS,
  MAX_REACTIONS_PER_ROOM,
  tooManyReactions,
  type ReactionCounts,
  type Reactions,
  type ReactionsEventMap,
} from './reactions.js';
import type { RedisBus } from './redis-bus.js';
import { RoomChannels } from './room-channels.js';
import { reactionScripts } from './scripts.js';

/** The bus channel reaction events travel on (seed 004's `reactions:events`). */
export const REACTIONS_CHANNEL = 'reactions:events';

/** How long after a resync the watched rooms are read once more (see `#recover`). */
const SETTLE_MS = 250;

type ReactionWire = { type: 'reaction'; room: string; reaction: string; count: number; by: string };

/**
 * Reactions over Redis: per room (under the room's hash tag) `reactions` (reaction → count) and
 * `reactions:by` (instance + reaction → that instance's contribution), both expiring after
 * `idleTtlMs` without a reaction or a watcher. Each instance also remembers its own totals per
 * room; after every reconnect it re-asserts them with an idempotent script, so a Redis that
 * restarted empty gets every live instance's reactions back once, and reactions counted while
 * degraded are added exactly once.
 */
export class RedisReactions extends EventEmitter<ReactionsEventMap> implements Reactions {
  readonly #ctx: RedkitContext;
  readonly #idleTtlMs: number;
  readonly #views = new Map<string, { refs: number; counts: Map<string, number> }>();
  /** This instance's own totals: room → reaction → count (bounded: forgotten once the room's key is gone). */
  readonly #mine = new Map<string, Map<string, number>>();
  readonly #channels: RoomChannels<ReactionWire>;
  readonly #removeResync: () => void;
  readonly #timer: NodeJS.Timeout;
  /** Bumped on every 'connected': a sweep only trusts a reply from a connection already re-asserted. */
  #generation = 0;
  #assertedGeneration = 0;
  readonly #onConnected = () => {
    this.#generation++;
    this.#scheduleRecover();
  };
  #recovering: Promise<void> | null = null;
  #settle: NodeJS.Timeout | undefined;
  #again = false;
  #closed = false;

  constructor(ctx: RedkitContext, bus: RedisBus, options: { idleTtlMs?: number } = {}) {
    super();
    this.#ctx = ctx;
    this.#idleTtlMs = options.idleTtlMs ?? DEFAULT_REACTIONS_IDLE_TTL_MS;
    this.#channels = new RoomChannels<ReactionWire>(bus, REACTIONS_CHANNEL, (m) => this.#receive(m));
    this.#removeResync = bus.onResync(() => this.#scheduleRecover());
    ctx.connection.on('connected', this.#onConnected);
    // A third of the idle TTL: a watched room's TTL is renewed twice before it could lapse.
    this.#timer = setInterval(
      () => {
        if (this.#ctx.connection.isReady && !this.#recovering)
          this.#maintain().catch((err) =>
            this.#ctx.logger.warn({ err: String((err as Error)?.message ?? err) }, '[realtime] reactions upkeep failed; retried'),
          );
      },
      Math.max(50, Math.min(60_000, Math.floor(this.#idleTtlMs / 3))),
    );
    this.#timer.unref();
  }

  #key(room: string) {
    return this.#ctx.keys.tagged('realtime', room, 'reactions');
  }
  #byKey(room: string) {
    return this.#ctx.keys.tagged('realtime', room, 'reactions', 'by');
  }

  async react(room: string, reaction: string, by = ''): Promise<number> {
    assertRoom(room);
    assertReaction(reaction);
    if (by !== '') assertMemberId(by);
    const known = this.#views.get(room)?.counts;
    if (!this.#ctx.connection.isReady && known && !known.has(reaction) && known.size >= MAX_REACTIONS_PER_ROOM) throw tooManyReactions(room);
    // Counted as ours before the call: if the call reached Redis but its answer was lost, the
    // re-assert finds it already there and adds nothing.
    this.#count(room, reaction, 1);
    try {
      const count = await this.#add(room, reaction, by);
      this.#apply(room, reaction, count, by, this.#ctx.instanceId);
      return count;
    } catch (err) {
      if (err instanceof RedkitError && err.code === 'E_INVALID_ARGUMENT') this.#count(room, reaction, -1);
      if (!(err instanceof RedisUnavailableError)) throw err;
    }
    // Degraded: count here; the re-assert on recovery sends it to Redis.
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
      // Subscribed before the read: a count between the two is not lost (cluster: per room).
      await this.#channels.add(room);
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
      if (v && --v.refs <= 0) {
        this.#views.delete(room);
        this.#channels.remove(room);
      }
    };
  }

  view(room: string): ReactionCounts {
    return Object.fromEntries(this.#views.get(room)?.counts ?? []);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#settle);
    this.#ctx.connection.off('connected', this.#onConnected);
    this.#removeResync();
    if (this.#ctx.connection.isReady) {
      // Our contributions stay in the counts; only the record of who made them goes.
      await Promise.all(
        [...this.#mine].map(([room, counts]) =>
          this.#ctx.connection.run((client) => client.hdel(this.#byKey(room), ...[...counts.keys()].map((r) => `${this.#ctx.instanceId}\0${r}`))),
        ),
      ).catch(() => undefined);
    }
    await this.#channels.close();
    this.#views.clear();
    this.#mine.clear();
    this.removeAllListeners();
  }

  #count(room: string, reaction: string, delta: number): number {
    let counts = this.#mine.get(room);
    if (!counts) this.#mine.set(room, (counts = new Map()));
    const n = (counts.get(reaction) ?? 0) + delta;
    if (n > 0) counts.set(reaction, n);
    else counts.delete(reaction);
    if (counts.size === 0) this.#mine.delete(room);
    return n;
  }

  async #add(room: string, reaction: string, by: string): Promise<number> {
    const result = await this.#ctx.connection.run((client) =>
      reactionScripts.add(client, [
        this.#key(room),
        this.#byKey(room),
        reaction,
        1,
        this.#channels.channel(room),
        this.#ctx.instanceId,
        room,
        Date.now(),
        by,
        MAX_REACTIONS_PER_ROOM,
        this.#idleTtlMs,
        this.#channels.publishCommand,
      ]),
    );
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
    if (d?.type !== 'reaction' || typeof d.room !== 'string' || typeof d.reaction !== 'string' || typeof d.count !== 'number') return;
    this.#apply(d.room, d.reaction, d.count, typeof d.by === 'string' ? d.by : '', message.from);
  }

  #apply(room: string, reaction: string, count: number, by: string, from: string): void {
    const counts = this.#views.get(room)?.counts;
    // Script replies and other instances' messages arrive on two connections, so an older count
    // can come after a newer one; counts only grow between resyncs (which use #replace).
    if (counts) {
      if ((counts.get(reaction) ?? 0) >= count) return;
      counts.set(reaction, count);
    }
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

  /**
   * Keeps watched rooms' counts alive (a room with people in it never expires), and forgets our
   * totals for rooms whose counts expired, so this instance's memory is bounded like Redis's.
   */
  async #maintain(): Promise<void> {
    const generation = this.#generation;
    if (generation !== this.#assertedGeneration) return;
    const watched = [...this.#views.keys()];
    const idle = [...this.#mine.keys()].filter((room) => !this.#views.has(room));
    if (watched.length === 0 && idle.length === 0) return;
    await this.#ctx.connection.run(async (client) => {
      const [, exists] = await Promise.all([
        Promise.all(watched.map((room) => Promise.all([client.pexpire(this.#key(room), this.#idleTtlMs), client.pexpire(this.#byKey(room), this.#idleTtlMs)]))),
        Promise.all(idle.map((room) => client.exists(this.#key(room)))),
      ]);
      // A reply from a connection not yet re-asserted (Redis restarted meanwhile) proves nothing.
      if (generation !== this.#generation || generation !== this.#assertedGeneration) return;
      idle.forEach((room, i) => {
        if (exists[i] === 0 && !this.#views.has(room)) this.#mine.delete(room);
      });
    });
  }

  #scheduleRecover(): void {
    if (this.#closed) return;
    if (this.#recovering) {
      this.#again = true;
      return;
    }
    this.#recovering = this.#recover()
      .catch((err) =>
        this.#ctx.logger.warn({ err: String((err as Error)?.message ?? err) }, '[realtime] reactions resync failed; retried on the next reconnect'),
      )
      .finally(() => {
        this.#recovering = null;
        if (this.#again) {
          this.#again = false;
          this.#scheduleRecover();
        }
      });
  }

  /** Re-asserts this instance's totals in every room it reacted in, then re-reads every watched room. */
  async #recover(): Promise<void> {
    if (!this.#ctx.connection.isReady) return;
    const generation = this.#generation;
    await this.#ctx.connection.run(async (client) => {
      await Promise.all(
        [...this.#mine].map(([room, counts]) =>
          reactionScripts.assert(client, [
            this.#key(room),
            this.#byKey(room),
            this.#channels.channel(room),
            this.#ctx.instanceId,
            room,
            Date.now(),
            MAX_REACTIONS_PER_ROOM,
            this.#idleTtlMs,
            this.#channels.publishCommand,
            ...[...counts].flat(),
          ]),
        ),
      );
    });
    for (const room of this.#views.keys()) this.#replace(room, await this.#read(room));
    this.#assertedGeneration = generation;
    // Resync handlers run when the subscriber is ready, before its SUBSCRIBE has reached Redis: an
    // instance that re-asserts in that gap publishes into the void. One more read closes it.
    clearTimeout(this.#settle);
    this.#settle = setTimeout(() => {
      if (!this.#ctx.connection.isReady || this.#closed) return;
      void Promise.all([...this.#views.keys()].map(async (room) => this.#replace(room, await this.#read(room)))).catch(() => undefined);
    }, SETTLE_MS);
    this.#settle.unref();
  }
}

import type { RedkitContext } from '../context.js';
import { RedisUnavailableError } from '../errors.js';
import type { PubSubSubscriber } from '../connection/sharded-subscriber.js';
import { rateLimitedLog, type RateLimitedLogFn } from '../rate-limited-log.js';
import { assertChannel, decodeEnvelope, encodeEnvelope, HandlerTable, type Bus, type BusHandler, type BusMessage } from './bus.js';

/**
 * The bus over Redis pub/sub on the connection's shared subscriber. Publishing delivers to this
 * instance's handlers at once and PUBLISHes on the shared command client; copies of our own
 * messages coming back from Redis are dropped, so every handler sees each message once.
 *
 * On a Redis Cluster the bus uses sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis >= 7): a classic
 * PUBLISH is copied to every node of the cluster. Each channel is then hash-tagged: a bus channel
 * by its own name, a room's event channel (roomChannel) by the room, so that the Lua scripts that
 * change a room's keys can SPUBLISH from the room's slot.
 */
export class RedisBus implements Bus {
  readonly instanceId: string;
  /** True on a Redis Cluster: sharded pub/sub, hash-tagged channels. */
  readonly sharded: boolean;
  readonly #ctx: RedkitContext;
  readonly #table: HandlerTable;
  readonly #unsubscribe = new Map<string, Promise<() => Promise<void>>>();
  readonly #resync = new Set<() => void>();
  #removeResync: (() => void) | null = null;
  #closed = false;
  readonly #warn: RateLimitedLogFn;

  constructor(ctx: RedkitContext) {
    this.#ctx = ctx;
    this.instanceId = ctx.instanceId;
    this.sharded = ctx.connection.config.topology === 'cluster';
    // A handler that throws does so on every message: a few lines a minute per channel.
    this.#warn = rateLimitedLog(ctx.logger, 'warn', { burst: 3 });
    this.#table = new HandlerTable((err, channel) =>
      this.#warn(`handler:${channel}`, { channel, err: String((err as Error)?.message ?? err) }, '[realtime] a bus handler threw'),
    );
  }

  /** The Redis channel of a logical channel: `<prefix>:realtime:<channel>` (`<prefix>:realtime:{<channel>}` on a cluster). */
  redisChannel(channel: string): string {
    return this.sharded ? this.#ctx.keys.tagged('realtime', channel) : this.#ctx.keys.key('realtime', channel);
  }

  /**
   * The Redis channel a room's `base` events are published on: the bus channel `base` shared by
   * every room, or on a cluster one channel per room in the slot of the room's keys.
   */
  roomChannel(base: string, room: string): string {
    return this.sharded ? this.#ctx.keys.tagged('realtime', room, base) : this.redisChannel(base);
  }

  /** What Lua scripts publish room events with. */
  get publishCommand(): 'PUBLISH' | 'SPUBLISH' {
    return this.sharded ? 'SPUBLISH' : 'PUBLISH';
  }

  /**
   * Cluster only: subscribes `handler` to one room's `base` channel (roomChannel), for the rooms
   * this instance shows. Messages reach `handler` alone, as messages of the logical channel `base`.
   */
  subscribeRoom<T>(base: string, room: string, handler: BusHandler<T>): Promise<() => Promise<void>> {
    const subscriber = this.#subscriber();
    return subscriber.subscribe(this.roomChannel(base, room), (raw) => {
      if (this.#closed) return;
      const message = decodeEnvelope(base, raw);
      if (!message || message.from === this.instanceId) return;
      try {
        handler(message as BusMessage<T>);
      } catch (err) {
        this.#warn(`handler:${base}`, { channel: base, err: String((err as Error)?.message ?? err) }, '[realtime] a bus handler threw');
      }
    });
  }

  /** The subscriber of this topology, with this bus's resync hook installed on first use. */
  #subscriber(): PubSubSubscriber {
    const subscriber: PubSubSubscriber = this.sharded ? this.#ctx.connection.shardedSubscriber() : this.#ctx.connection.subscriber();
    this.#removeResync ??= subscriber.onResync(() => {
      for (const fn of this.#resync) this.#safe(fn);
    });
    return subscriber;
  }

  async publish<T>(channel: string, data: T): Promise<boolean> {
    assertChannel(channel);
    const at = Date.now();
    const raw = encodeEnvelope(this.instanceId, channel, data, at);
    this.#table.deliver({ channel, from: this.instanceId, at, data: JSON.parse(raw).data });
    if (!this.#ctx.connection.isReady) return false;
    try {
      const target = this.redisChannel(channel);
      await this.#ctx.connection.run((client) => (this.sharded ? client.spublish(target, raw) : client.publish(target, raw)));
      return true;
    } catch (err) {
      if (err instanceof RedisUnavailableError) return false;
      throw err;
    }
  }

  async subscribe<T>(channel: string, handler: BusHandler<T>): Promise<() => Promise<void>> {
    assertChannel(channel);
    this.#table.add(channel, handler as BusHandler);
    let subscribed = this.#unsubscribe.get(channel);
    if (!subscribed) {
      subscribed = this.#subscriber().subscribe(this.redisChannel(channel), (raw) => this.#receive(channel, raw));
      this.#unsubscribe.set(channel, subscribed);
    }
    // While Redis is down the SUBSCRIBE waits for the reconnect; local delivery works meanwhile.
    if (this.#ctx.connection.isReady) await subscribed;
    else subscribed.catch(() => undefined);
    return async () => {
      if (!this.#table.remove(channel, handler as BusHandler)) return;
      const pending = this.#unsubscribe.get(channel);
      this.#unsubscribe.delete(channel);
      if (pending) await (await pending.catch(() => async () => {}))();
    };
  }

  onResync(fn: () => void): () => void {
    this.#resync.add(fn);
    return () => this.#resync.delete(fn);
  }

  #receive(channel: string, raw: string): void {
    if (this.#closed) return;
    const message = decodeEnvelope(channel, raw);
    if (!message) {
      this.#ctx.logger.debug({ channel }, '[realtime] ignored a message that is not a redkit envelope');
      return;
    }
    if (message.from === this.instanceId) return;
    this.#table.deliver(message);
  }

  #safe(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#warn('resync', { err: String((err as Error)?.message ?? err) }, '[realtime] a resync handler threw');
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#removeResync?.();
    const pending = [...this.#unsubscribe.values()];
    this.#unsubscribe.clear();
    this.#table.clear();
    if (this.#ctx.connection.isReady) await Promise.all(pending.map(async (p) => (await p.catch(() => async () => {}))().catch(() => undefined)));
  }
}

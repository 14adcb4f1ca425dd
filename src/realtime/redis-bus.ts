import type { RedkitContext } from '../context.js';
import { RedisUnavailableError } from '../errors.js';
import { rateLimitedLog, type RateLimitedLogFn } from '../rate-limited-log.js';
import { assertChannel, decodeEnvelope, encodeEnvelope, HandlerTable, type Bus, type BusHandler } from './bus.js';

/**
 * The bus over Redis pub/sub on the connection's shared subscriber. Publishing delivers to this
 * instance's handlers at once and PUBLISHes on the shared command client; copies of our own
 * messages coming back from Redis are dropped, so every handler sees each message once.
 */
export class RedisBus implements Bus {
  readonly instanceId: string;
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
    // A handler that throws does so on every message: a few lines a minute per channel.
    this.#warn = rateLimitedLog(ctx.logger, 'warn', { burst: 3 });
    this.#table = new HandlerTable((err, channel) =>
      this.#warn(`handler:${channel}`, { channel, err: String((err as Error)?.message ?? err) }, '[realtime] a bus handler threw'),
    );
  }

  /** The Redis channel of a logical channel: `<prefix>:realtime:<channel>`. */
  redisChannel(channel: string): string {
    return this.#ctx.keys.key('realtime', channel);
  }

  async publish<T>(channel: string, data: T): Promise<boolean> {
    assertChannel(channel);
    const at = Date.now();
    const raw = encodeEnvelope(this.instanceId, channel, data, at);
    this.#table.deliver({ channel, from: this.instanceId, at, data: JSON.parse(raw).data });
    if (!this.#ctx.connection.isReady) return false;
    try {
      await this.#ctx.connection.run((client) => client.publish(this.redisChannel(channel), raw));
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
      const subscriber = this.#ctx.connection.subscriber();
      this.#removeResync ??= subscriber.onResync(() => {
        for (const fn of this.#resync) this.#safe(fn);
      });
      subscribed = subscriber.subscribe(this.redisChannel(channel), (raw) => this.#receive(channel, raw));
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

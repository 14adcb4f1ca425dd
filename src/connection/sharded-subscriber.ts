import type { Cluster } from 'ioredis';
import type { MessageHandler } from './subscriber.js';

/** What a capability needs of a subscriber: SharedSubscriber (classic) and ShardedSubscriber both provide it. */
export interface PubSubSubscriber {
  readonly status: string;
  subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>>;
  onResync(fn: () => void): () => void;
}

/**
 * Sharded pub/sub on a Redis Cluster (Redis >= 7), with the contract of SharedSubscriber.
 *
 * A classic PUBLISH on a cluster is forwarded by the cluster bus to every node (5 bus messages per
 * PUBLISH on 6 nodes), whatever the number of subscribers; an SPUBLISH goes to the shard that owns
 * the channel's slot only. ioredis (`shardedSubscribers: true`) keeps one SSUBSCRIBE connection per
 * master, made when a channel of that master is first subscribed. A master that dies takes its
 * connection with it; ioredis refreshes the slot map until the promoted replica shows up, subscribes
 * the channels again there and emits `subscribersReady`: the `onResync` handlers run then, as
 * messages published meanwhile are lost. Channels of other shards are not affected.
 */
export class ShardedSubscriber implements PubSubSubscriber {
  readonly #client: Cluster;
  readonly #handlers = new Map<string, Set<MessageHandler>>();
  readonly #resync = new Set<() => void>();
  readonly #redisUp: () => boolean;
  #everReady = false;
  #unconfirmed = false;

  /** `client` must be a Cluster made with `shardedSubscribers: true` and an offline queue (subscriptions made while down wait). */
  constructor(client: Cluster, redisUp: () => boolean = () => true) {
    this.#client = client;
    this.#redisUp = redisUp;
    client.on('smessage', (channel: string, message: string) => {
      const handlers = this.#handlers.get(channel);
      if (!handlers) return;
      for (const handler of handlers) {
        try {
          handler(message, channel);
        } catch {
          // One faulty handler must not starve the others of the message.
        }
      }
    });
    // Emitted after every change of the subscriber set (first connect, failover, reshard, a shard
    // connection replaced), once the channels were sent again.
    client.on('subscribersReady', () => {
      const resync = this.#everReady || this.#unconfirmed;
      this.#everReady = true;
      this.#unconfirmed = false;
      if (!resync) return;
      for (const fn of this.#resync) {
        try {
          fn();
        } catch {
          // A failing resync handler must not keep the others from running.
        }
      }
    });
  }

  /** The cluster client's status (`ready` once the slot map is known). */
  get status(): string {
    return this.#client.status;
  }

  /**
   * Adds `handler` to `channel`, SSUBSCRIBing on first use on the connection of the channel's
   * master. Resolves once Redis confirmed it, or at once while Redis is down (ioredis subscribes
   * on reconnect, then `onResync` runs). Returns the function that removes the handler.
   */
  async subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>> {
    let handlers = this.#handlers.get(channel);
    const first = !handlers;
    if (!handlers) {
      handlers = new Set();
      this.#handlers.set(channel, handlers);
    }
    handlers.add(handler);
    if (first) {
      let subscribing: Promise<unknown>;
      try {
        subscribing = this.#client.ssubscribe(channel);
      } catch (err) {
        // ioredis throws synchronously when its slot map has no entry for the slot yet.
        subscribing = Promise.reject(err);
      }
      if (this.#client.status === 'ready' || this.#redisUp()) {
        // The shard's connection lost mid-subscribe: ioredis keeps the channel and sends it again
        // to the shard's (new) master; resync runs then.
        await subscribing.catch(() => {
          this.#unconfirmed = true;
        });
      } else {
        this.#unconfirmed = true;
        subscribing.catch(() => undefined);
      }
    }
    return async () => {
      const set = this.#handlers.get(channel);
      if (!set?.delete(handler) || set.size > 0) return;
      this.#handlers.delete(channel);
      // Sent even while down (queued): ioredis would otherwise subscribe the channel again on reconnect.
      await Promise.resolve()
        .then(() => this.#client.sunsubscribe(channel))
        .catch(() => undefined);
    };
  }

  /** Runs `fn` each time the shard subscriptions were restored after a change. Returns a remover. */
  onResync(fn: () => void): () => void {
    this.#resync.add(fn);
    return () => this.#resync.delete(fn);
  }
}

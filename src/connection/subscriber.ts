import type { Redis } from 'ioredis';

/** Called with each message of a channel; `channel` is the full Redis channel name. */
export type MessageHandler = (message: string, channel: string) => void;

/**
 * One subscriber connection shared by every capability (cache invalidation, lock wake-ups,
 * job notifications, the realtime bus), multiplexing handlers per channel. ioredis
 * re-subscribes after a reconnect; `onResync` handlers then run so that capabilities re-read
 * whatever state matters — pub/sub is at-most-once, messages sent while down are gone.
 */
export class SharedSubscriber {
  readonly #client: Redis;
  readonly #handlers = new Map<string, Set<MessageHandler>>();
  readonly #resync = new Set<() => void>();
  #wasReady = false;

  constructor(client: Redis) {
    this.#client = client;
    client.on('message', (channel: string, message: string) => {
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
    client.on('ready', () => {
      if (this.#wasReady) for (const fn of this.#resync) fn();
      this.#wasReady = true;
    });
  }

  /** The underlying client's status (`ready` when subscriptions are live). */
  get status(): string {
    return this.#client.status;
  }

  /**
   * Adds `handler` to `channel`, subscribing on first use. Resolves once Redis confirmed the
   * subscription (or at once if it already was); while disconnected it waits for the reconnect.
   * Returns the function that removes the handler (unsubscribing on last removal).
   */
  async subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>> {
    let handlers = this.#handlers.get(channel);
    const first = !handlers;
    if (!handlers) {
      handlers = new Set();
      this.#handlers.set(channel, handlers);
    }
    handlers.add(handler);
    if (first) await this.#client.subscribe(channel);
    return async () => {
      const set = this.#handlers.get(channel);
      if (!set?.delete(handler) || set.size > 0) return;
      this.#handlers.delete(channel);
      if (this.#client.status === 'ready') await this.#client.unsubscribe(channel).catch(() => undefined);
    };
  }

  /** Runs `fn` after every reconnect of the subscriber, once subscriptions are restored. Returns a remover. */
  onResync(fn: () => void): () => void {
    this.#resync.add(fn);
    return () => this.#resync.delete(fn);
  }
}

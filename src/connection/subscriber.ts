import type { Cluster, Redis } from 'ioredis';
import { isCluster, type RedisClient } from './cluster.js';

/** Called with each message of a channel; `channel` is the full Redis channel name. */
export type MessageHandler = (message: string, channel: string) => void;

/**
 * One subscriber connection shared by every capability (cache invalidation, lock wake-ups,
 * job notifications, the realtime bus), multiplexing handlers per channel. ioredis
 * re-subscribes after a reconnect; `onResync` handlers then run so that capabilities re-read
 * whatever state matters — pub/sub is at-most-once, messages sent while down are gone.
 */
export class SharedSubscriber {
  readonly #client: RedisClient;
  readonly #handlers = new Map<string, Set<MessageHandler>>();
  readonly #resync = new Set<() => void>();
  readonly #redisUp: () => boolean;
  #everReady = false;
  #unconfirmed = false;

  /** `redisUp` tells whether the shared connection is up, i.e. whether this client will connect soon. */
  constructor(client: RedisClient, redisUp: () => boolean = () => true) {
    this.#client = client;
    this.#redisUp = redisUp;
    // ioredis's autoResubscribe calls subscribe() on reconnect without a rejection handler, so a
    // connection lost again before the reply crashed a test run with an unhandled "Connection is
    // closed.". Every promise subscribe() returns is marked handled here; callers still see it reject.
    const subscribe = client.subscribe.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as unknown as { subscribe: (...args: unknown[]) => Promise<unknown> }).subscribe = (...args: unknown[]) => {
      const pending = subscribe(...args);
      pending.catch(() => undefined);
      return pending;
    };
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
    // A reconnect runs the resync handlers; so does the first connect when a subscription was
    // made while Redis was down (its capability has state to read once Redis comes up).
    client.on('ready', () => {
      const resync = this.#everReady || this.#unconfirmed;
      this.#everReady = true;
      this.#unconfirmed = false;
      if (resync) this.#runResync();
    });
    if (isCluster(client)) this.#watchClusterSubscriber(client);
  }

  #runResync(): void {
    for (const fn of this.#resync) {
      try {
        fn();
      } catch {
        // A failing resync handler must not keep the others from running.
      }
    }
  }

  /**
   * On a Cluster the subscription lives on one node connection, which ioredis replaces with a
   * connection to another node when it ends, re-subscribing there without a cluster 'ready':
   * messages of the gap are lost all the same, so every replacement's 'ready' is a resync.
   */
  #watchClusterSubscriber(cluster: Cluster): void {
    const inner = (cluster as unknown as { subscriber?: { selectSubscriber?(): void; getInstance?(): Redis | null; isStarted?(): boolean } }).subscriber;
    if (!inner?.selectSubscriber || !inner.getInstance) return;
    const select = inner.selectSubscriber.bind(inner);
    let selected = 0;
    let lastAt = 0;
    let delayMs = 0;
    let pending: NodeJS.Timeout | null = null;
    const selectNow = () => {
      pending = null;
      if (inner.isStarted && !inner.isStarted()) return;
      lastAt = performance.now();
      select();
      const node = inner.getInstance!();
      // The first is the initial connection (the cluster's own 'ready' covers it).
      if (node) node.once('ready', () => (delayMs = 0));
      if (node && ++selected > 1) node.once('ready', () => this.#runResync());
    };
    // ioredis picks a new subscriber node the moment the last one ends, with no delay: while the
    // whole cluster is down that is a hot loop of refused connects (thousands a second, each
    // leaving a timer). Selections closer than the last delay wait, backing off to 2 s.
    inner.selectSubscriber = () => {
      if (pending) return;
      if (performance.now() - lastAt >= delayMs) {
        delayMs = Math.min(Math.max(delayMs * 2, 50), 2000);
        selectNow();
        return;
      }
      pending = setTimeout(selectNow, delayMs);
      pending.unref();
    };
  }

  /** The underlying client's status (`ready` when subscriptions are live). */
  get status(): string {
    return this.#client.status;
  }

  /**
   * Adds `handler` to `channel`, subscribing on first use. Resolves once Redis confirmed the
   * subscription; while Redis is down it resolves at once and the subscription is made on
   * reconnect (then `onResync` runs), so neither startup nor close waits on an absent Redis.
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
    if (first) {
      const subscribing = this.#client.subscribe(channel);
      if (this.#client.status === 'ready' || this.#redisUp()) {
        // A connection lost (or closed) mid-subscribe is not the caller's failure: the handler
        // stays registered and ioredis subscribes again on reconnect, then resync runs.
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
      if (this.#client.status === 'ready') await this.#client.unsubscribe(channel).catch(() => undefined);
    };
  }

  /** Runs `fn` each time the subscriber (re)connects, once subscriptions are restored. Returns a remover. */
  onResync(fn: () => void): () => void {
    this.#resync.add(fn);
    return () => this.#resync.delete(fn);
  }
}

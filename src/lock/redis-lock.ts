import { isCluster, type RedisClient } from '../connection/cluster.js';
import type { RedkitContext } from '../context.js';
import type { AcquireReply, HolderInfo, LockBackend, LockRef } from './backend.js';
import { randomBytes } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';
import { isReplyError } from '../connection/reply-errors.js';
import type { PubSubSubscriber } from '../connection/sharded-subscriber.js';
import { RedisUnavailableError } from '../errors.js';
import { lockScripts, readMarker, type LockKeys } from './scripts.js';
import { ClusterRuns, tagForSlot, type ServerRun } from './server-runs.js';

interface Watcher {
  handlers: Set<(token: string, fence: number) => void>;
  ready: Promise<void>;
  unsubscribe: Promise<() => Promise<void>>;
  idleTimer: NodeJS.Timeout | null;
}

function isOne(reply: unknown): boolean {
  return reply === 1;
}

/** Subscriptions stay this long after their last waiter left: contended names churn otherwise. */
const WATCH_IDLE_MS = 5000;

/**
 * The Redis lock store: every operation is one Lua script over the name's three keys (one hash
 * tag), wake-ups are published on one channel per name and received by the shared subscriber.
 */
export class RedisLockBackend implements LockBackend {
  readonly kind = 'redis' as const;
  readonly #ctx: RedkitContext;
  /**
   * How the scripts wake waiters, and where waiters listen. On a Redis Cluster a classic PUBLISH
   * is copied over the cluster bus to every node and reaches the subscriber through whichever node
   * it is connected to: one more hop on every contended hand-off, and work for all six nodes.
   * The wake channel shares the name's hash tag, so an SPUBLISH from the script reaches the
   * sharded subscriber's connection to that very master (bench/lock.ts contended on a cluster:
   * see the commit that made this change for numbers).
   */
  readonly #sharded: boolean;
  readonly #wakeCommand: 'PUBLISH' | 'SPUBLISH';
  #runId: ServerRun | null = null;
  #runIdLoading: Promise<ServerRun> | null = null;
  /** Set once INFO was refused to this user: the guard uses the data marker from then on. */
  #useMarker = false;
  readonly #watchers = new Map<string, Watcher>();
  readonly #resync = new Set<() => void>();
  #removeResync: (() => void) | null = null;
  /** Redis Cluster: runs per node (or markers per slot), see server-runs.ts. */
  readonly #clusterRuns = new ClusterRuns();
  #watchedCluster: Cluster | null = null;
  readonly #onDisconnect = () => {
    this.#runId = null;
    this.#clusterRuns.clear();
  };

  constructor(ctx: RedkitContext) {
    this.#ctx = ctx;
    this.#sharded = ctx.connection.config.topology === 'cluster';
    this.#wakeCommand = this.#sharded ? 'SPUBLISH' : 'PUBLISH';
    // A reconnect may be to a restarted server: learn its run_id again before the next grant.
    ctx.connection.on('disconnected', this.#onDisconnect);
  }

  // Names repeat (the same lock taken again and again): their keys and channel are built once,
  // found by kind then name (no string built per call).
  readonly #keyCache = new Map<LockRef['kind'], Map<string, { keys: LockKeys; channel: string }>>();
  #keyCount = 0;
  #names(ref: LockRef): { keys: LockKeys; channel: string } {
    let byName = this.#keyCache.get(ref.kind);
    if (!byName) this.#keyCache.set(ref.kind, (byName = new Map()));
    let names = byName.get(ref.name);
    if (!names) {
      const k = this.#ctx.keys;
      const id = `${ref.kind}:${ref.name}`;
      // The scripts publish on the meta key with `m` replaced by `wake` (lib.lua wakeChannel).
      names = { keys: [k.tagged('lock', id, 'h'), k.tagged('lock', id, 'q'), k.tagged('lock', id, 'm')], channel: k.tagged('lock', id, 'wake') };
      if (++this.#keyCount > 10_000) {
        this.#keyCache.clear();
        this.#keyCount = 1;
        this.#keyCache.set(ref.kind, (byName = new Map()));
      }
      byName.set(ref.name, names);
    }
    return names;
  }

  #keys(ref: LockRef): LockKeys {
    return this.#names(ref).keys;
  }

  #channel(ref: LockRef): string {
    return this.#names(ref).channel;
  }

  #run<T>(fn: (client: RedisClient) => Promise<T>): Promise<T> {
    return this.#ctx.connection.run(fn);
  }

  /**
   * What the restart guard compares with each name's stored run (lock/lua/acquire-3.lua): the
   * server's run_id from INFO, or, where the ACL user may not run INFO (@dangerous), the data
   * marker of this Redis with its creation time. Learned once per connection.
   */
  #serverRun(client: RedisClient): ServerRun | Promise<ServerRun> {
    if (this.#runId) return this.#runId;
    this.#runIdLoading ??= (
      this.#useMarker
        ? this.#marker(client)
        : client.info('server').then(
            (info) => ({ id: /run_id:(\w+)/.exec(info)?.[1] ?? 'unknown', born: '' }),
            (err: unknown) => {
              // Expected under a least-privilege user: not logged as the ACL error it would be elsewhere.
              if (!isReplyError(err) || !String((err as Error).message).startsWith('NOPERM')) throw err;
              this.#useMarker = true;
              this.#ctx.logger.info(
                {},
                '[redkit] INFO is refused to this ACL user: the lock restart guard uses a data marker instead (README "Least privilege")',
              );
              return this.#marker(client);
            },
          )
    )
      .then((run) => {
        this.#runId = run;
        return run;
      })
      .finally(() => {
        this.#runIdLoading = null;
      });
    return this.#runIdLoading;
  }

  #marker(client: RedisClient, key = this.#ctx.keys.key('lock', 'marker')): Promise<ServerRun> {
    // One key per prefix (per slot on a cluster), without a TTL (bounded); lost with the data, which is its point.
    return readMarker(client, key, randomBytes(20).toString('hex')).then((m) => {
      const [id, born] = String(m).split(':');
      return { id: id!, born: born! };
    });
  }

  /**
   * The restart guard's run for a name on a cluster: the run_id of the node serving its slot
   * (learned from the script's "stale run_id" reply, never by an INFO sent elsewhere), or, where
   * INFO is refused, the marker of its slot, hash-tagged into that slot so that it lives, moves
   * and is lost with the slot's data.
   */
  #clusterRun(cluster: Cluster, key: string): ServerRun | Promise<ServerRun> {
    if (this.#watchedCluster !== cluster) {
      // A node that reconnects may have restarted empty: what was learned of it is stale.
      this.#watchedCluster = cluster;
      const forget = () => this.#clusterRuns.clear();
      for (const node of cluster.nodes('all')) node.on('close', forget);
      cluster.on('+node', (node: Redis) => node.on('close', forget));
    }
    if (!this.#useMarker) return this.#clusterRuns.run(this.#clusterRuns.nodeOf(cluster, key));
    return this.#slotMarkerRun(cluster, key);
  }

  /**
   * The marker of `key`'s slot. Also used on a slot-safe single endpoint (a proxy in front of
   * shards): one marker per prefix would live on one shard and miss the others losing their data.
   */
  #slotMarkerRun(client: RedisClient, key: string): ServerRun | Promise<ServerRun> {
    const slot = calculateSlot(key);
    const known = this.#clusterRuns.marker(slot);
    if (known) return known;
    return this.#marker(client, `${this.#ctx.keys.key('lock', 'marker')}:{${tagForSlot(slot)}}`).then((run) => {
      this.#clusterRuns.markerLearned(slot, run);
      return run;
    });
  }

  acquire(ref: LockRef, token: string, ttlMs: number, waitMs: number, guardMs: number): Promise<AcquireReply> {
    return this.#acquire(ref, token, ttlMs, waitMs, guardMs, 0);
  }

  #acquire(ref: LockRef, token: string, ttlMs: number, waitMs: number, guardMs: number, attempt: number): Promise<AcquireReply> {
    const connection = this.#ctx.connection;
    const client = connection.client;
    if (client === null || !connection.isReady) return Promise.reject(connection.unavailable());
    const { keys } = this.#names(ref);
    const known = isCluster(client)
      ? this.#clusterRun(client, keys[0])
      : this.#useMarker && connection.slotSafe
        ? this.#slotMarkerRun(client, keys[0])
        : this.#serverRun(client);
    // The reply is read, and errors are mapped, in the reaction that settles the script call:
    // acquire and release are the hot path, each promise less counts.
    const onReply = (raw: unknown): AcquireReply | Promise<AcquireReply> => {
      if (typeof raw === 'string') return { status: 'granted', fence: Number(raw) };
      const reply = raw as [number, number | string];
      switch (reply[0]) {
        case 0:
          return { status: 'busy', retryMs: Number(reply[1]) };
        case 2:
          return { status: 'queued', retryMs: Number(reply[1]) };
        case 3:
          return { status: 'guard', retryMs: Number(reply[1]) };
        default:
          // 4: the server is not the one we last saw (restarted); 5: INFO was refused since we
          // learned the run_id (the user's rights changed): the script granted nothing.
          if (reply[0] === 5) {
            this.#useMarker = true;
            this.#runId = null;
          } else if (isCluster(client)) {
            this.#useMarker = false;
            this.#clusterRuns.learned(this.#clusterRuns.nodeOf(client, keys[0]), { id: String(reply[1]), born: '' });
          } else {
            this.#runId = { id: String(reply[1]), born: '' };
          }
          if (attempt >= 2)
            throw new RedisUnavailableError(`lock "${ref.name}": the Redis run_id keeps changing; nothing was granted, try again`, 'RESTARTING');
          return this.#acquire(ref, token, ttlMs, waitMs, guardMs, attempt + 1);
      }
    };
    const call = (run: ServerRun) =>
      lockScripts.acquire(
        client,
        [...keys, token, ttlMs, ref.limit, Math.ceil(waitMs), Math.ceil(guardMs), run.id, run.born, this.#wakeCommand],
        onReply,
        this.#unavailable,
      );
    return 'then' in known ? known.then(call, this.#unavailable) : call(known);
  }

  release(ref: LockRef, token: string): Promise<boolean> {
    const connection = this.#ctx.connection;
    const client = connection.client;
    if (client === null || !connection.isReady) return Promise.reject(connection.unavailable());
    return lockScripts.release(client, [...this.#keys(ref), token, ref.limit, this.#wakeCommand], isOne, this.#unavailable);
  }

  readonly #unavailable = (err: unknown): never => {
    throw this.#ctx.connection.toUnavailable(err);
  };

  async extend(ref: LockRef, token: string, ttlMs: number): Promise<number | null> {
    const fence = await this.#run((client) => lockScripts.extend(client, [...this.#keys(ref), token, ttlMs, ref.limit]));
    return fence === 0 ? null : Number(fence);
  }

  async cancel(ref: LockRef, token: string): Promise<void> {
    await this.#run((client) => lockScripts.cancel(client, [...this.#keys(ref), token, ref.limit, this.#wakeCommand]));
  }

  async holders(ref: LockRef): Promise<HolderInfo[]> {
    const flat = (await this.#run((client) => lockScripts.inspect(client, [...this.#keys(ref), ref.limit]))) as Array<string | number>;
    const out: HolderInfo[] = [];
    for (let i = 0; i < flat.length; i += 3) out.push({ token: String(flat[i]), fence: Number(flat[i + 1]), remainingMs: Number(flat[i + 2]) });
    return out.sort((a, b) => a.fence - b.fence);
  }

  async watch(ref: LockRef, onWake: (token: string, fence: number) => void): Promise<() => void> {
    const channel = this.#channel(ref);
    let watcher = this.#watchers.get(channel);
    if (!watcher) {
      const handlers = new Set<(token: string, fence: number) => void>();
      const subscriber: PubSubSubscriber = this.#sharded ? this.#ctx.connection.shardedSubscriber() : this.#ctx.connection.subscriber();
      if (!this.#removeResync)
        this.#removeResync = subscriber.onResync(() => {
          for (const fn of this.#resync) fn();
        });
      const unsubscribe = subscriber.subscribe(channel, (message) => {
        // "g <token> <fence>": a slot was handed to <token>.
        const [, token, fence] = message.split(' ');
        if (token && fence) for (const h of handlers) h(token, Number(fence));
      });
      const created: Watcher = {
        handlers,
        unsubscribe,
        ready: unsubscribe.then(
          () => undefined,
          () => undefined,
        ),
        idleTimer: null,
      };
      watcher = created;
      this.#watchers.set(channel, created);
    }
    const w = watcher;
    if (w.idleTimer) {
      clearTimeout(w.idleTimer);
      w.idleTimer = null;
    }
    w.handlers.add(onWake);
    // A subscribe never confirmed while Redis is away must not stall the waiter: its timed re-checks cover the gap.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([
      w.ready,
      new Promise<void>((resolve) => {
        bound = setTimeout(resolve, this.#ctx.config.commandTimeoutMs);
        bound.unref();
      }),
    ]);
    clearTimeout(bound);
    return () => {
      w.handlers.delete(onWake);
      if (w.handlers.size > 0 || w.idleTimer) return;
      w.idleTimer = setTimeout(() => {
        if (w.handlers.size > 0 || this.#watchers.get(channel) !== w) return;
        this.#watchers.delete(channel);
        void w.unsubscribe.then((off) => off()).catch(() => undefined);
      }, WATCH_IDLE_MS);
      w.idleTimer.unref();
    };
  }

  onResync(fn: () => void): () => void {
    this.#resync.add(fn);
    return () => this.#resync.delete(fn);
  }

  async close(): Promise<void> {
    this.#ctx.connection.off('disconnected', this.#onDisconnect);
    this.#removeResync?.();
    for (const [channel, w] of this.#watchers) {
      if (w.idleTimer) clearTimeout(w.idleTimer);
      this.#watchers.delete(channel);
      await Promise.race([w.unsubscribe.then((off) => off()).catch(() => undefined), new Promise((r) => setTimeout(r, 200).unref())]);
    }
  }
}

import { EventEmitter } from 'node:events';
import type { Cluster } from 'ioredis';
import type { Logger, RedkitConfig } from '../config/types.js';
import { ClosedError, RedisUnavailableError, RedkitError } from '../errors.js';
import type { BackoffOptions } from './backoff.js';
import { classifyError, type ClassifiedError } from './classify.js';
import { redactError } from './redact.js';
import { mapCallError, unusableError, type CallContext } from './call-errors.js';
import { SharedSubscriber } from './subscriber.js';
import { ShardedSubscriber } from './sharded-subscriber.js';
import { stallThresholdMs } from './watchdog.js';
import { ServerWatch } from './server-identity.js';
import { isCluster, type RedisClient } from './cluster.js';
import { ClusterWatch, type ClusterWatchHost } from './cluster-watch.js';
import { SingleWatch, type SingleWatchHost } from './single-watch.js';
import { ClientPool, type DedicatedClientOptions } from './client-factory.js';
import { waitForFirstConnect } from './first-connect.js';
import { buildHealth, type ConnectionState, type RedisHealth } from './health.js';
import { SlotSafety } from './slot-safe.js';

export type { ConnectionState, RedisHealth, RedisTopologyHealth } from './health.js';
export type { DedicatedClientOptions } from './client-factory.js';

/** Options of `RedisConnection` beyond the config. */
export interface ConnectionOptions {
  /** Reconnect backoff. */
  backoff?: BackoffOptions;
  /** How long the oldest unanswered command may wait before Redis counts as stalled. Default `min(commandTimeoutMs, 750)`. */
  stallMs?: number;
}

/**
 * The only place redkit creates ioredis clients. Holds the shared command client, hands out
 * dedicated subscriber/blocking clients with the same settings, tracks the state, probes health.
 * Events: `state` (state, previous), `connected`, `disconnected` (ClassifiedError | null),
 * `restart` (RedisRestartEvent: Redis came back as a new process, or its data was lost),
 * `failover` (RedisFailoverEvent: a replica that holds the data was promoted; nothing to recover).
 */
export class RedisConnection extends EventEmitter {
  readonly config: RedkitConfig;
  #logger: Logger;
  #client: RedisClient | null = null;
  #state: ConnectionState;
  #since = new Date();
  #lastError: (ClassifiedError & { at: string }) | null = null;
  #probeTimer: NodeJS.Timeout | null = null;
  /** When the shared client last read anything from Redis (any reply proves it alive). */
  #heardAt = performance.now();
  #probeRun: Promise<void> | null = null;
  #probing = false;
  #closed = false;
  #started: Promise<void> | null = null;
  #subscriber: SharedSubscriber | null = null;
  #sharded: ShardedSubscriber | null = null;
  /** Bound on the oldest unanswered command's wait before Redis counts as stalled (ms). */
  readonly stallMs: number;
  #latency: number | null = null;
  #server: ServerWatch;
  /** Every secret of the config, masked in errors and messages. */
  #secrets: Array<string | undefined>;
  /** Every client made for this connection (client-factory.ts). */
  #pool: ClientPool;
  /** One server: its role, stall watchdog and probe (single-watch.ts). */
  #single = new SingleWatch();
  /** Cluster: node connections and slot coverage (cluster-watch.ts). */
  #clusterWatch = new ClusterWatch();
  readonly #singleHost: SingleWatchHost;
  readonly #clusterHost: ClusterWatchHost;
  readonly #slotSafety: SlotSafety;

  constructor(config: RedkitConfig, logger: Logger, options: ConnectionOptions | BackoffOptions = {}) {
    super();
    this.config = config;
    this.#logger = logger;
    this.#secrets = [config.password, config.sentinelPassword];
    // The third argument was the backoff alone; both shapes are accepted.
    const opts: ConnectionOptions = 'backoff' in options || 'stallMs' in options ? (options as ConnectionOptions) : { backoff: options as BackoffOptions };
    this.#pool = new ClientPool(
      config,
      logger,
      opts.backoff ?? {},
      this.#secrets,
      () => this.#closed,
      () => this.#lastError?.reason,
    );
    this.stallMs = stallThresholdMs(config.commandTimeoutMs, opts.stallMs);
    this.#server = new ServerWatch(
      config.prefix,
      logger,
      (event) => this.emit('restart', event),
      (event) => this.emit('failover', event),
    );
    this.#state = config.mode === 'standalone' ? 'not_configured' : 'connecting';
    this.#slotSafety = new SlotSafety(config, logger);
    this.#singleHost = this.#makeSingleHost();
    this.#clusterHost = this.#makeClusterHost();
    // The connection emits 'disconnected' as a state change; an 'error' event is never emitted, so no listener is required.
  }

  /** Current state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** True when Redis is configured and answering: the only state in which capabilities use it. */
  get isReady(): boolean {
    return this.#state === 'connected';
  }

  /** The last classified connection error, if any. */
  get lastError(): (ClassifiedError & { at: string }) | null {
    return this.#lastError;
  }

  /**
   * Who the server is: its `run_id`, or (when INFO is refused) the marker key's value; null
   * before the first look. It changes when Redis restarted or lost its data (`restart` event).
   */
  get serverId(): string | null {
    return this.#server.serverId;
  }

  /**
   * True when multi-key calls must keep their keys in one hash slot (slot-safe.ts): on a cluster,
   * with `slotSafe: true`, or once `'auto'` saw a CROSSSLOT reply from this endpoint.
   */
  get slotSafe(): boolean {
    return this.#slotSafety.on;
  }

  /** The shared command client (a `Cluster` on Redis Cluster), or null in standalone mode or before `start()`. */
  get client(): RedisClient | null {
    return this.#client;
  }

  /**
   * Connects the shared client. Resolves when connected, or after `connectTimeoutMs` with the
   * state `disconnected` (degraded mode: reconnecting goes on in the background). Never rejects
   * for an unreachable Redis; idempotent.
   */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('the Redis connection'));
    if (this.config.mode === 'standalone') return Promise.resolve();
    this.#started ??= this.#connect();
    return this.#started;
  }

  async #connect(): Promise<void> {
    const cfg = this.config;
    this.#logger.info({ target: cfg.target, instanceId: cfg.instanceId }, `[Redis] Initializing connection to ${this.#where()}`);
    const client = this.#pool.make('command', {
      // Fail fast while disconnected: ioredis's offline queue is unbounded and its commands
      // fail only after many reconnect attempts, which would hang the request path.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Writes are batched per tick by batchWritesPerTick instead of ioredis's auto-pipeline,
      // which keeps one batch in flight per client (see write-batching.ts).
      enableAutoPipelining: false,
    });
    this.#client = client;
    this.#slotSafety.adopt(client);
    if (isCluster(client)) this.#watchCluster(client);
    else this.#single.attach(client, this.#singleHost);
    client.on('error', (err: unknown) => this.#recordError(err));
    this.#startProbe();
    await this.#firstConnect(client);
    // One PING (bounded by the command timeout) so that health has a latency from the start.
    if (this.isReady && this.#single.firstProbe) await this.#single.firstProbe;
  }

  /**
   * Redis Cluster: writes corked and stalls watched per node connection (cluster-watch.ts), and
   * the state from a probe of every master: connected while some master answers (calls to
   * healthy shards go on), with the unserved ranges in health.
   */
  #watchCluster(cluster: Cluster): void {
    this.#clusterWatch.attach(cluster, this.#clusterHost);
    cluster.on('ready', () => {
      this.#pool.attempt = 0;
      void this.#probe();
    });
    cluster.on('node error', (err: unknown) => this.#recordError(err, true));
    cluster.on('close', () => {
      if (this.#closed) return;
      if (this.#state === 'connected' || this.#state === 'connecting') this.#setState('disconnected', this.#lastError);
    });
  }

  /** What the single-server watch may see and change of this connection. */
  #makeSingleHost(): SingleWatchHost {
    return {
      config: this.config,
      logger: this.#logger,
      stallMs: this.stallMs,
      server: this.#server,
      isClosed: () => this.#closed,
      state: () => this.#state,
      lastError: () => this.#lastError,
      setState: (next, error) => this.#setState(next, error),
      setLastError: (error) => {
        this.#lastError = error;
      },
      recordError: (err) => this.#recordError(err),
      setLatency: (ms) => {
        this.#latency = ms;
      },
      heard: () => {
        this.#heardAt = performance.now();
      },
      heardAt: () => this.#heardAt,
      requestProbe: () => this.#probe(),
      where: () => this.#where(),
      onReady: () => {
        this.#pool.attempt = 0;
      },
    };
  }

  /** What the cluster watch may see and change of this connection. */
  #makeClusterHost(): ClusterWatchHost {
    return {
      stallMs: this.stallMs,
      logger: this.#logger,
      isClosed: () => this.#closed,
      requestProbe: () => void this.#probe(),
      onNodeError: (error) => {
        this.#lastError = error;
      },
      onNode: (node) => this.emit('node', node),
    };
  }

  /** Resolves when first connected, on a definite failure, or after `connectTimeoutMs` (then degraded). */
  #firstConnect(client: RedisClient): Promise<void> {
    return waitForFirstConnect(this, client, this.#logger, (timedOut) => {
      // The attempts' own error (refused, NOAUTH, TLS…) says more than the timeout does.
      if (timedOut && !this.#lastError)
        this.#recordError(Object.assign(new Error(`connect timed out after ${this.config.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }), true);
      this.#setState('disconnected', this.#lastError);
    });
  }

  /**
   * A dedicated client with the shared settings (for SUBSCRIBE, blocking commands, BullMQ).
   * It is closed by `close()`. Throws in standalone mode.
   */
  dedicatedClient(options: DedicatedClientOptions): RedisClient {
    if (this.#closed) throw new ClosedError('the Redis connection');
    if (this.config.mode === 'standalone') {
      throw new RedkitError('E_STANDALONE', `cannot create a Redis client for "${options.purpose}" in standalone mode: configure REDIS_URL or REDIS_HOST`);
    }
    return this.#pool.dedicated(options);
  }

  /**
   * The subscriber connection shared by every capability, created on first use. Its commands
   * wait for a reconnect instead of failing (subscriptions must survive an outage).
   * Throws in standalone mode.
   */
  subscriber(): SharedSubscriber {
    this.#subscriber ??= new SharedSubscriber(
      this.dedicatedClient({ purpose: 'subscriber', overrides: { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined } }),
      () => this.isReady,
    );
    return this.#subscriber;
  }

  /**
   * Redis Cluster only: the sharded (SSUBSCRIBE) subscriber shared by every capability, one
   * connection per master, created on first use. For channels hash-tagged like the keys they
   * relate to; see sharded-subscriber.ts. Throws on other topologies.
   */
  shardedSubscriber(): ShardedSubscriber {
    if (this.config.topology !== 'cluster') throw new RedkitError('E_CONFIG', 'sharded pub/sub needs a Redis Cluster (topology cluster)');
    this.#sharded ??= new ShardedSubscriber(
      this.dedicatedClient({
        purpose: 'sharded-subscriber',
        overrides: { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined },
        clusterOverrides: { shardedSubscribers: true },
      }) as Cluster,
      () => this.isReady,
    );
    return this.#sharded;
  }

  /** Where commands go, for messages: the master's `host:port` once known, else the configured endpoint. */
  #where(): string {
    if (this.config.topology === 'sentinel') return this.#single.master ?? `the master "${this.config.sentinelMasterName}" (via sentinels)`;
    if (this.config.topology === 'cluster') return `the cluster seeded by ${this.config.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
    return `${this.config.host}:${this.config.port}`;
  }

  #recordError(err: unknown, quiet = false): void {
    redactError(err, this.#secrets);
    const classified = classifyError(err, { target: this.#where(), tls: this.config.tls !== false, secrets: this.#secrets });
    const previous = this.#lastError;
    this.#lastError = { ...classified, at: new Date().toISOString() };
    if (!quiet && (previous?.reason !== classified.reason || this.#pool.attempt <= 1)) {
      this.#logger.error({ reason: classified.reason, hint: classified.hint }, `[Redis] ❌ Connection error: ${classified.reason}: ${classified.message}`);
    }
  }

  #setState(next: ConnectionState, error: (ClassifiedError & { at: string }) | null): void {
    if (this.#state === next) return;
    const previous = this.#state;
    this.#state = next;
    this.#since = new Date();
    this.emit('state', next, previous);
    if (next === 'connected') this.emit('connected');
    if (next === 'disconnected') this.emit('disconnected', error);
  }

  /**
   * A paused (SIGSTOP) Redis keeps its TCP connection open, so only a timed-out PING reveals it;
   * the probe turns that into `disconnected`, and a later answer back into `connected`. When a
   * probe is due is the watches' call (single-watch.ts: only after a silence; cluster-watch.ts:
   * once per interval), so traffic costs no PING.
   */
  #startProbe(): void {
    const interval = this.config.healthIntervalMs;
    this.#probeTimer = setInterval(
      () => {
        const client = this.#client;
        const due = isCluster(client) ? this.#clusterWatch.probeDue(interval, this.#state) : this.#single.probeDue(client, interval, this.#singleHost);
        if (due) void this.#probe();
      },
      Math.max(20, Math.round(interval / 4)),
    );
    this.#probeTimer.unref();
  }

  /** One probe at a time: callers that ask while one is in flight share its answer. */
  #probe(): Promise<void> {
    this.#probeRun ??= this.#probeOnce().finally(() => {
      this.#probeRun = null;
    });
    return this.#probeRun;
  }

  async #probeOnce(): Promise<void> {
    const client = this.#client;
    if (isCluster(client)) return this.#probeCluster(client);
    if (this.#probing || !client || client.status !== 'ready') return;
    this.#probing = true;
    try {
      await this.#single.probe(client, this.#singleHost);
    } finally {
      this.#probing = false;
    }
  }

  /**
   * Cluster: PING every master of the slot map. Connected while at least one answers (calls to
   * its slots work; the rest fail by their capability's policy); health says which ranges are not
   * served (reason CLUSTER_PARTIAL). No master answering is `disconnected`.
   */
  async #probeCluster(cluster: Cluster): Promise<void> {
    if (this.#probing || cluster.status !== 'ready') return;
    this.#probing = true;
    try {
      const verdict = await this.#clusterWatch.probe(cluster, this.#clusterHost);
      if (this.#closed) return;
      if (verdict.served) this.#heardAt = performance.now();
      this.#latency = verdict.latency;
      if (verdict.error) this.#lastError = verdict.error;
      if (!verdict.served) this.#setState('disconnected', this.#lastError);
      else if (this.#state !== 'connected') {
        this.#setState('connected', null);
        this.#logger.info({ target: this.config.target }, '[Redis] Cluster ready to receive commands');
      }
    } finally {
      this.#probing = false;
    }
  }

  /**
   * Runs `fn` with the shared client when Redis is usable. Fails at once with
   * RedisUnavailableError when it is not, and maps connection failures and timeouts to it;
   * Redis reply errors become typed RedkitErrors (reply-errors.ts), never a raw ReplyError.
   */
  run<T>(fn: (client: RedisClient) => Promise<T>): Promise<T> {
    // Not an async function: this wraps every command of every capability, and a plain .catch
    // costs one promise where async/await costs three.
    const client = this.#client;
    if (!client || !this.isReady) return Promise.reject(this.unavailable());
    let pending: Promise<T>;
    try {
      pending = fn(client);
    } catch (err) {
      return Promise.reject(this.toUnavailable(err));
    }
    return pending.catch(this.#rethrowUnavailable) as Promise<T>;
  }

  readonly #rethrowUnavailable = (err: unknown): never => {
    throw this.toUnavailable(err);
  };

  /** The error capabilities throw when Redis is configured but not usable now. */
  unavailable(cause?: unknown): RedisUnavailableError {
    return unusableError(this.#callContext(), this.#state, this.#closed, this.#lastError, cause);
  }

  /** Maps a thrown error: connection trouble → RedisUnavailableError; a Redis reply error → its typed RedkitError (call-errors.ts). */
  toUnavailable(err: unknown): unknown {
    redactError(err, this.#secrets);
    this.#slotSafety.notice(err, this.#client);
    const { error, classified } = mapCallError(err, this.#callContext());
    if (classified?.reason === 'TIMEOUT') void this.#probe();
    // The socket may be gone before ioredis emits 'close': the state must not lag behind a failure we just saw.
    else if (classified && this.#client && this.#client.status !== 'ready')
      this.#setState('disconnected', this.#lastError ?? { ...classified, at: new Date().toISOString() });
    return error;
  }

  #callContext(): CallContext {
    return { config: this.config, logger: this.#logger, secrets: this.#secrets, where: this.#where() };
  }

  /** PING round trip in ms; throws RedisUnavailableError when Redis is not usable. */
  async ping(): Promise<number> {
    return this.run(async (client) => {
      const start = performance.now();
      await client.ping();
      return Math.round((performance.now() - start) * 100) / 100;
    });
  }

  /**
   * The seed 002 health object, from the connection's state: it never waits on Redis (answers in
   * well under a millisecond). `latency` is the last background probe's PING (every `healthIntervalMs`).
   */
  health(): Promise<RedisHealth> {
    return Promise.resolve(this.healthNow());
  }

  /**
   * `health()`, truthful at the moment of asking: when nothing was read from Redis for
   * `maxSilenceMs`, one PING (shared by concurrent callers) goes out first, and a stalled Redis
   * shows as `disconnected` within the stall bound (`stallMs`). Traffic makes it free.
   */
  async healthFresh(maxSilenceMs = 1000): Promise<RedisHealth> {
    if (this.#client && this.#state === 'connected' && performance.now() - this.#heardAt > maxSilenceMs) await this.#probe();
    return this.healthNow();
  }

  /** `health()` without the promise. */
  healthNow(): RedisHealth {
    const kind = this.config.topology;
    return buildHealth({
      mode: this.config.mode,
      ready: this.isReady,
      since: this.#since,
      latency: this.#latency,
      lastError: this.#lastError,
      lastRestartAt: this.#server.lastRestartAt,
      warnings: this.#server.warnings,
      topology: {
        kind,
        master: this.isReady && kind !== 'cluster' ? this.#single.master : null,
        role: kind === 'cluster' ? 'master' : this.#single.role,
        lastFailoverAt: this.#server.lastFailoverAt,
        ...(kind === 'cluster' ? this.#clusterWatch.healthFields() : {}),
      },
    });
  }

  /**
   * Lets in-flight commands finish (QUIT is queued behind them, bounded by the command
   * timeout), then closes every client. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#probeTimer) clearInterval(this.#probeTimer);
    this.#single.stop();
    this.#clusterWatch.stop();
    this.emit('closed');
    await this.#pool.closeAll(this.#client ? [this.#client] : []);
    this.removeAllListeners();
  }
}

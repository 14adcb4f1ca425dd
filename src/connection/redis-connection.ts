import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger, RedkitConfig } from '../config/types.js';
import { ClosedError, RedisUnavailableError, RedkitError } from '../errors.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { classifyError, roleError, type ClassifiedError } from './classify.js';
import { redactError } from './redact.js';
import { mapReplyError } from './reply-errors.js';
import { batchWritesPerTick } from './batching/write-batching.js';
import { SharedSubscriber } from './subscriber.js';
import { StallWatchdog, stallError, stallThresholdMs } from './watchdog.js';
import { ServerWatch, type HealthWarning } from './server-identity.js';
import { readRole, reviveOnEnd, sentinelOptions, type ServerRole } from './sentinel.js';
import { clusterOptions, describeRanges, isCluster, probeCluster, type RedisClient, type SlotRange } from './cluster.js';

/** Where the shared connection stands. */
export type ConnectionState = 'not_configured' | 'connecting' | 'connected' | 'disconnected';

/** `kit.health()`: the seed 002 `redis` object plus when the state began and the last error. */
export interface RedisHealth {
  status: 'connected' | 'disconnected' | 'not_configured';
  message: string;
  /** PING round trip in ms, or null when not connected. */
  latency: number | null;
  /** When the current status began (ISO 8601). */
  since: string;
  lastError: (ClassifiedError & { at: string }) | null;
  /** When a restart (new `run_id`) or lost data (marker key gone) was last seen (ISO 8601), or null. */
  lastRestartAt: string | null;
  /** Server settings that put redkit's state at risk (e.g. an evicting `maxmemory-policy`). */
  warnings: HealthWarning[];
  /** What redkit sees: the configured kind, the master it writes to, and that server's `ROLE`. */
  topology: RedisTopologyHealth;
}

/** `health().topology`. */
export interface RedisTopologyHealth {
  /** `memory` in standalone mode. */
  kind: 'memory' | 'single' | 'sentinel' | 'cluster';
  /** `host:port` of the server the shared client is connected to, or null while not connected. */
  master: string | null;
  /** That server's answer to `ROLE`, or null when unknown (not connected, or ROLE not permitted). */
  role: ServerRole | null;
  /** When the sentinels last moved the master under redkit (ISO 8601), or null. */
  lastFailoverAt: string | null;
  /** Cluster only: the masters of the slot map (`host:port`) as of the last probe. */
  masters?: string[];
  /** Cluster only: slot ranges with no answering master (`0-5460 (127.0.0.1:7000)`), or null when every slot is served. */
  unservedSlots?: string | null;
}

/** Options of `RedisConnection` beyond the config. */
export interface ConnectionOptions {
  /** Reconnect backoff. */
  backoff?: BackoffOptions;
  /** How long the oldest unanswered command may wait before Redis counts as stalled. Default `min(commandTimeoutMs, 750)`. */
  stallMs?: number;
}

/** Options of a dedicated client made with `dedicatedClient`. */
export interface DedicatedClientOptions {
  /** Shown in `CLIENT LIST` as `redkit:<instance>:<purpose>`. */
  purpose: string;
  /** ioredis options to override (e.g. `maxRetriesPerRequest: null` for blocking BullMQ workers); on a cluster, they apply to every node. */
  overrides?: Partial<RedisOptions>;
  /** Cluster only: ioredis Cluster options to override (e.g. `shardedSubscribers`). */
  clusterOverrides?: Partial<ClusterOptions>;
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
  #backoff: BackoffOptions;
  #client: RedisClient | null = null;
  #dedicated = new Set<RedisClient>();
  #state: ConnectionState;
  #since = new Date();
  #lastError: (ClassifiedError & { at: string }) | null = null;
  #probeTimer: NodeJS.Timeout | null = null;
  #probing = false;
  #attempt = 0;
  #lastRetryLog = 0;
  #closed = false;
  #started: Promise<void> | null = null;
  #subscriber: SharedSubscriber | null = null;
  #watchdog: StallWatchdog | null = null;
  /** Bound on the oldest unanswered command's wait before Redis counts as stalled (ms). */
  readonly stallMs: number;
  #latency: number | null = null;
  #server: ServerWatch;
  #firstProbe: Promise<void> | null = null;
  /** Every secret of the config, masked in errors and messages. */
  #secrets: Array<string | undefined>;
  /** `ROLE` of the server the shared client is on; anything but `master` keeps the state `disconnected`. */
  #role: ServerRole | null = null;
  #roleOk = false;
  #master: string | null = null;
  /** Cluster: ranges without an answering master as of the last probe (the cluster is still usable for the rest). */
  #unserved: SlotRange[] = [];
  #masters: string[] = [];
  /** Cluster: one stall watchdog per node connection (a paused node stalls only its own slots). */
  #nodeWatchdogs = new Map<Redis, StallWatchdog>();

  constructor(config: RedkitConfig, logger: Logger, options: ConnectionOptions | BackoffOptions = {}) {
    super();
    this.config = config;
    this.#logger = logger;
    this.#secrets = [config.password, config.sentinelPassword];
    // The third argument was the backoff alone; both shapes are accepted.
    const opts: ConnectionOptions = 'backoff' in options || 'stallMs' in options ? (options as ConnectionOptions) : { backoff: options as BackoffOptions };
    this.#backoff = opts.backoff ?? {};
    this.stallMs = stallThresholdMs(config.commandTimeoutMs, opts.stallMs);
    this.#server = new ServerWatch(
      config.prefix,
      logger,
      (event) => this.emit('restart', event),
      (event) => this.emit('failover', event),
    );
    this.#state = config.mode === 'standalone' ? 'not_configured' : 'connecting';
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
    const client = this.#make('command', {
      // Fail fast while disconnected: ioredis's offline queue is unbounded and its commands
      // fail only after many reconnect attempts, which would hang the request path.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Writes are batched per tick by batchWritesPerTick instead of ioredis's auto-pipeline,
      // which keeps one batch in flight per client (see write-batching.ts).
      enableAutoPipelining: false,
    });
    this.#client = client;
    if (isCluster(client)) this.#watchCluster(client);
    else this.#watchSingle(client);
    client.on('error', (err: unknown) => this.#recordError(err));
    this.#startProbe();
    await this.#firstConnect(client);
    // One PING (bounded by the command timeout) so that health has a latency from the start.
    if (this.isReady && this.#firstProbe) await this.#firstProbe;
  }

  /** One server (single, Sentinel): writes corked per tick, one stall watchdog, ROLE checked on every connect. */
  #watchSingle(client: Redis): void {
    const cfg = this.config;
    batchWritesPerTick(client);
    this.#watchdog = new StallWatchdog(
      client,
      this.stallMs,
      (waitedMs) => this.#onStall(waitedMs),
      () => void this.#probe(),
    );
    this.#watchdog.start();
    client.on('ready', () => {
      this.#attempt = 0;
      this.#watchdog?.clear();
      this.#master = client.stream?.remoteAddress ? `${client.stream.remoteAddress}:${client.stream.remotePort}` : null;
      // A replica or a sentinel port answers PING too: only a master makes the state `connected`.
      void this.#checkRole(client).then((ok) => {
        if (!ok || client.status !== 'ready' || this.#closed) return;
        this.#setState('connected', null);
        this.#logger.info({ target: cfg.target, master: this.#master }, '[Redis] Client ready to receive commands');
        // Latency for health from the first moment, measured in the background.
        this.#firstProbe ??= this.#probe();
        void this.#server.check(client);
      });
    });
    client.on('close', () => {
      this.#roleOk = false;
      if (this.#closed) return;
      if (this.#state === 'connected' || this.#state === 'connecting') this.#setState('disconnected', this.#lastError);
    });
  }

  /**
   * Redis Cluster: writes corked per tick and a stall watchdog on every node connection (ioredis
   * opens one per node it learns of), and the state from a probe of every master: connected
   * while some master answers (calls to healthy shards go on), with the unserved ranges in health.
   */
  #watchCluster(cluster: Cluster): void {
    cluster.on('+node', (node: Redis) => {
      batchWritesPerTick(node);
      const watchdog = new StallWatchdog(
        node,
        this.stallMs,
        (waitedMs) => this.#onNodeStall(node, watchdog, waitedMs),
        () => void this.#probe(),
      );
      this.#nodeWatchdogs.set(node, watchdog);
      watchdog.start();
      node.on('ready', () => watchdog.clear());
      this.emit('node', node);
    });
    cluster.on('-node', (node: Redis) => {
      this.#nodeWatchdogs.get(node)?.stop();
      this.#nodeWatchdogs.delete(node);
    });
    cluster.on('ready', () => {
      this.#attempt = 0;
      this.#roleOk = true;
      this.#role = 'master';
      void this.#probe();
    });
    cluster.on('node error', (err: unknown) => this.#recordError(err, true));
    cluster.on('close', () => {
      if (this.#closed) return;
      if (this.#state === 'connected' || this.#state === 'connecting') this.#setState('disconnected', this.#lastError);
    });
  }

  /** A node stopped answering: its waiting commands fail now; the probe finds which slots it leaves unserved. */
  #onNodeStall(node: Redis, watchdog: StallWatchdog, waitedMs: number): void {
    const where = node.options.host ? `${node.options.host}:${node.options.port}` : 'a cluster node';
    const error = stallError(where, waitedMs, this.stallMs);
    this.#lastError = error;
    this.#logger.warn({ reason: error.reason, node: where, waitedMs }, `[Redis] Cluster node ${error.message}: its calls fail fast until it answers`);
    watchdog.rejectOutstanding(new RedisUnavailableError(`Redis command failed: ${error.message} — ${error.hint}`, 'TIMEOUT'));
    void this.#probe();
  }

  /** Resolves when first connected, on a definite failure, or after `connectTimeoutMs` (then degraded). */
  #firstConnect(client: RedisClient): Promise<void> {
    const cfg = this.config;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (this.#state !== 'connected') {
          // The attempts' own error (refused, NOAUTH, TLS…) says more than the timeout does.
          if (!this.#lastError) this.#recordError(Object.assign(new Error(`connect timed out after ${cfg.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }), true);
          this.#setState('disconnected', this.#lastError);
          this.#logger.warn(
            { target: cfg.target, reason: this.#lastError?.reason, hint: this.#lastError?.hint },
            `[Redis] Not reachable within ${cfg.connectTimeoutMs} ms: starting degraded, reconnecting in the background`,
          );
        }
        done();
      }, cfg.connectTimeoutMs);
      // A definite answer (refused, unknown host, bad credentials, TLS mismatch) needs no more
      // waiting: start degraded now and keep reconnecting; only silence waits the full timeout.
      const definite = () => {
        const reason = this.#lastError?.reason;
        if (reason && reason !== 'TIMEOUT' && reason !== 'UNKNOWN' && this.#state !== 'connected') {
          this.#setState('disconnected', this.#lastError);
          this.#logger.warn(
            { target: cfg.target, reason, hint: this.#lastError?.hint },
            `[Redis] Not available (${reason}): starting degraded, reconnecting in the background`,
          );
          done();
        }
      };
      // A replica or a sentinel port answered ROLE: a definite answer too.
      const wrongRole = (error: ClassifiedError | null) => {
        if (error?.reason !== 'WRONG_ROLE') return;
        this.#logger.warn(
          { target: cfg.target, reason: error.reason, hint: error.hint },
          `[Redis] ${error.message}: starting degraded, checking again in the background`,
        );
        done();
      };
      const done = () => {
        clearTimeout(timer);
        this.off('disconnected', wrongRole);
        this.off('connected', done);
        this.off('closed', done);
        client.off('error', definite);
        resolve();
      };
      this.once('connected', done);
      this.once('closed', done);
      this.on('disconnected', wrongRole);
      client.on('error', definite);
      client.connect().catch(() => {
        // The first attempt failed; retryStrategy keeps trying and 'ready' resolves us.
      });
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
    const client = this.#make(options.purpose, options.overrides ?? {}, options.clusterOverrides);
    client.on('error', (err: unknown) => {
      redactError(err, this.#secrets);
      this.#logger.debug({ purpose: options.purpose, err: String((err as Error)?.message ?? err) }, '[Redis] dedicated client error');
    });
    client.once('end', () => this.#dedicated.delete(client));
    this.#dedicated.add(client);
    // lazyConnect: false means ioredis is already connecting (it does so in its constructor).
    if (options.overrides?.lazyConnect === undefined) client.connect().catch(() => {});
    return client;
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

  #make(purpose: string, overrides: Partial<RedisOptions>, clusterOverrides?: Partial<ClusterOptions>): RedisClient {
    const cfg = this.config;
    if (cfg.topology === 'cluster') {
      // Cluster-level, not per node: retries (clusterNodeRetryStrategy), the offline queue (ioredis
      // keeps it on per node) and lazyConnect (a non-lazy node connected on its own and, the cluster
      // not up yet, the Cluster never retried: a worker made before its Redis never took a job).
      const { retryStrategy: _single, enableOfflineQueue, lazyConnect: _lazy, ...nodeOverrides } = overrides;
      const nodeOptions = this.#nodeOptions(purpose, nodeOverrides);
      // A cluster has one db (0): SELECT is refused.
      delete nodeOptions.db;
      return new Cluster(
        cfg.clusterNodes.map((n) => ({ host: n.host, port: n.port })),
        clusterOptions(cfg, nodeOptions, (attempt) => this.#retryDelay(purpose, attempt), {
          ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
          ...(overrides.lazyConnect !== undefined ? { lazyConnect: overrides.lazyConnect } : {}),
          ...clusterOverrides,
        }),
      );
    }
    const client = new Redis({
      ...(cfg.topology === 'sentinel'
        ? sentinelOptions(cfg, (attempt) => this.#retryDelay(`${purpose} (sentinels)`, attempt))
        : { host: cfg.host, port: cfg.port }),
      ...this.#nodeOptions(purpose, overrides),
    });
    if (cfg.topology === 'sentinel')
      reviveOnEnd(
        client,
        () => this.#closed,
        (attempt) => backoffDelay(attempt, this.#backoff),
        this.#logger,
      );
    return client;
  }

  /** What every server connection of `purpose` shares: credentials, TLS, timeouts, its name in CLIENT LIST. */
  #nodeOptions(purpose: string, overrides: Partial<RedisOptions>): Partial<RedisOptions> {
    const cfg = this.config;
    return {
      username: cfg.username,
      password: cfg.password,
      db: cfg.db,
      // On a cluster each node is checked against its own announced name (node:tls's default).
      tls: cfg.tls === false ? undefined : { ...(isIP(cfg.host ?? '') || cfg.topology === 'cluster' ? {} : { servername: cfg.host }), ...cfg.tls },
      connectTimeout: cfg.connectTimeoutMs,
      commandTimeout: cfg.commandTimeoutMs,
      connectionName: `redkit:${cfg.instanceId}:${purpose}`,
      lazyConnect: true,
      retryStrategy: (attempt: number) => this.#retryDelay(purpose, attempt),
      // READONLY: this server was demoted (failover) or is a replica. Reconnecting re-resolves the
      // master through the sentinels; 2 resends the command there (it was not executed here).
      reconnectOnError: (err: Error) => (/^READONLY/.test(err.message) ? 2 : false),
      ...overrides,
    };
  }

  /**
   * Asks the server its `ROLE`; true for a master (or when ROLE is not permitted). A replica or a
   * sentinel makes the state `disconnected` with the fix; on Sentinel the client reconnects so
   * that the sentinels are asked again.
   */
  async #checkRole(client: Redis): Promise<boolean> {
    const role = await readRole(client);
    if (role === undefined) return false;
    this.#role = role;
    this.#roleOk = role !== 'replica' && role !== 'sentinel';
    if (this.#roleOk) return true;
    const error = { ...roleError(role as 'replica' | 'sentinel', this.#where(), this.config.topology), at: new Date().toISOString() };
    const changed = this.#lastError?.reason !== error.reason;
    this.#lastError = error;
    this.#latency = null;
    if (changed) this.#logger.error({ reason: error.reason, hint: error.hint }, `[Redis] ❌ ${error.message}`);
    this.#setState('disconnected', error);
    if (this.config.topology === 'sentinel') client.disconnect(true);
    return false;
  }

  /** Where commands go, for messages: the master's `host:port` once known, else the configured endpoint. */
  #where(): string {
    if (this.config.topology === 'sentinel') return this.#master ?? `the master "${this.config.sentinelMasterName}" (via sentinels)`;
    if (this.config.topology === 'cluster') return `the cluster seeded by ${this.config.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
    return `${this.config.host}:${this.config.port}`;
  }

  #retryDelay(purpose: string, attempt: number): number | null {
    if (this.#closed) return null;
    const delay = backoffDelay(attempt, this.#backoff);
    if (purpose === 'command') {
      this.#attempt = attempt;
      // Logs the first five attempts, then at most one line every 30 s: reconnecting is forever.
      const now = Date.now();
      if (attempt <= 5 || now - this.#lastRetryLog >= 30_000) {
        this.#lastRetryLog = now;
        this.#logger.warn({ attempt, delayMs: delay, reason: this.#lastError?.reason }, `[Redis] Retry attempt ${attempt}, waiting ${delay}ms`);
      }
    }
    return delay;
  }

  #recordError(err: unknown, quiet = false): void {
    redactError(err, this.#secrets);
    const classified = classifyError(err, { target: this.#where(), tls: this.config.tls !== false, secrets: this.#secrets });
    const previous = this.#lastError;
    this.#lastError = { ...classified, at: new Date().toISOString() };
    if (!quiet && (previous?.reason !== classified.reason || this.#attempt <= 1)) {
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
   * the probe turns that into `disconnected`, and a later answer back into `connected`.
   * It PINGs only after `healthIntervalMs` in which nothing was read from Redis: any reply proves
   * the connection alive, a killed Redis closes the socket at once, and a stall that a command
   * waits on is the watchdog's (watchdog.ts). So traffic costs no PING, and an idle kit pays one
   * per interval at most (bench/idle.ts); a stall nothing waits on is seen within 1.25 intervals
   * plus the stall bound.
   */
  #startProbe(): void {
    let heardAt = performance.now();
    let heard: unknown = null;
    this.#probeTimer = setInterval(
      () => {
        const client = this.#client;
        if (isCluster(client)) {
          // One PING per master per interval: node streams come and go with the slot map.
          if (performance.now() - heardAt >= this.config.healthIntervalMs || this.#state !== 'connected' || this.#unserved.length > 0) {
            heardAt = performance.now();
            void this.#probe();
          }
          return;
        }
        const stream = client?.stream;
        if (stream && stream !== heard) {
          heard = stream;
          stream.on('data', () => {
            heardAt = performance.now();
          });
        }
        if (client && this.#state === 'connected' && performance.now() - heardAt < this.config.healthIntervalMs) {
          if (this.#server.markerDue) void this.#server.check(client);
          return;
        }
        void this.#probe();
      },
      Math.max(20, Math.round(this.config.healthIntervalMs / 4)),
    );
    this.#probeTimer.unref();
  }

  async #probe(): Promise<void> {
    const client = this.#client;
    if (isCluster(client)) return this.#probeCluster(client);
    if (this.#probing || !client || client.status !== 'ready') return;
    this.#probing = true;
    const started = performance.now();
    try {
      await client.ping();
      this.#latency = Math.round((performance.now() - started) * 100) / 100;
      if (this.#watchdog?.stalled) {
        this.#watchdog.clear();
        this.#logger.info({ target: this.config.target }, '[Redis] Answering again after a stall');
      }
      if (!this.#roleOk && !(await this.#checkRole(client))) return;
      if (this.#state !== 'connected') this.#setState('connected', null);
      // Without INFO the marker is the only sign of lost data; a FLUSHALL or an eviction
      // between reconnects is seen within a minute.
      if (this.#server.markerDue) void this.#server.check(client);
    } catch (err) {
      this.#latency = null;
      // A stall was already reported; the probe's PING waits for Redis to answer again.
      if (this.#watchdog?.stalled) return;
      this.#recordError(err);
      this.#setState('disconnected', this.#lastError);
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
      const view = await probeCluster(cluster, this.stallMs);
      if (this.#closed) return;
      this.#masters = view.masters;
      const wasPartial = this.#unserved.length > 0;
      this.#unserved = view.unserved;
      // Some master answered (its PING set a latency).
      const served = view.latency !== null;
      this.#latency = view.latency;
      if (view.unserved.length > 0) {
        const error = {
          reason: 'CLUSTER_PARTIAL' as const,
          message: `Redis Cluster slots ${describeRanges(view.unserved)} have no master that answers`,
          hint: 'calls to other slots go on; ioredis refreshes the slot map every 5 s and follows a promoted replica — check the failed node (`npx redkit doctor`)',
          at: new Date().toISOString(),
        };
        if (!wasPartial) this.#logger.warn({ reason: error.reason, unserved: describeRanges(view.unserved) }, `[Redis] ${error.message}`);
        this.#lastError = error;
      } else if (wasPartial) {
        this.#logger.info({ masters: view.masters.length }, '[Redis] Redis Cluster: every slot is served again');
      }
      if (served) {
        if (this.#state !== 'connected') {
          this.#setState('connected', null);
          this.#logger.info({ target: this.config.target, masters: view.masters.length }, '[Redis] Cluster ready to receive commands');
        }
      } else {
        this.#setState('disconnected', this.#lastError);
      }
    } finally {
      this.#probing = false;
    }
  }

  /** The watchdog saw no reply for `waitedMs`: disconnected now, and every waiting command fails now. */
  #onStall(waitedMs: number): void {
    const error = stallError(this.#where(), waitedMs, this.stallMs);
    this.#lastError = error;
    this.#latency = null;
    this.#logger.warn({ reason: error.reason, waitedMs, stallMs: this.stallMs }, `[Redis] ${error.message}: failing fast until it answers`);
    this.#setState('disconnected', error);
    this.#watchdog?.rejectOutstanding(new RedisUnavailableError(`Redis command failed: ${error.message} — ${error.hint}`, 'TIMEOUT'));
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
    if (this.#closed) return new RedisUnavailableError('redkit is closed', 'CLOSED');
    if (this.config.mode === 'standalone') return new RedisUnavailableError('Redis is not configured (standalone mode)', 'NOT_CONFIGURED');
    const last = this.#lastError;
    const detail = last ? `${last.message} — ${last.hint}` : 'not connected yet';
    return new RedisUnavailableError(`Redis at ${this.#where()} is ${this.#state}: ${detail}`, last?.reason ?? 'UNAVAILABLE', { cause });
  }

  /** Maps a thrown error: connection trouble → RedisUnavailableError; a Redis reply error → its typed RedkitError (reply-errors.ts). */
  toUnavailable(err: unknown): unknown {
    redactError(err, this.#secrets);
    if (err instanceof RedkitError) return err;
    const name = (err as Error)?.name;
    if (name === 'ReplyError' && this.config.topology !== 'single' && /^READONLY/.test(String((err as Error).message))) {
      // The master moved under this call (reconnectOnError is already re-resolving it): to the
      // caller that is a short outage, not a read-only server.
      return new RedisUnavailableError(
        `Redis command failed: ${this.#where()} is no longer the master (failover in progress) — redkit reconnects to the new master by itself`,
        'FAILOVER',
        { cause: err },
      );
    }
    if (name === 'ReplyError' && !/^(NOAUTH|WRONGPASS)/.test(String((err as Error).message)))
      return mapReplyError(err, { username: this.config.username, prefix: this.config.prefix, logger: this.#logger });
    const classified = classifyError(err, { target: this.#where(), tls: this.config.tls !== false, secrets: this.#secrets });
    if (classified.reason === 'TIMEOUT') void this.#probe();
    // The socket may be gone before ioredis emits 'close': the state must not lag behind a failure we just saw.
    else if (this.#client && this.#client.status !== 'ready')
      this.#setState('disconnected', this.#lastError ?? { ...classified, at: new Date().toISOString() });
    return new RedisUnavailableError(`Redis command failed: ${classified.message} — ${classified.hint}`, classified.reason, { cause: err });
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

  /** `health()` without the promise. */
  healthNow(): RedisHealth {
    const since = this.#since.toISOString();
    const kind = this.config.topology;
    const topology: RedisTopologyHealth = {
      kind,
      master: this.isReady && kind !== 'cluster' ? this.#master : null,
      role: this.#role,
      lastFailoverAt: this.#server.lastFailoverAt,
      ...(kind === 'cluster' ? { masters: [...this.#masters], unservedSlots: this.#unserved.length > 0 ? describeRanges(this.#unserved) : null } : {}),
    };
    const common = { since, lastRestartAt: this.#server.lastRestartAt, warnings: [...this.#server.warnings], topology };
    if (this.config.mode === 'standalone') {
      return { status: 'not_configured', message: 'Redis not configured: running standalone (in-memory)', latency: null, lastError: null, ...common };
    }
    // A cluster with unserved slots still serves the rest (isReady), but it is not healthy.
    if (this.isReady && this.#unserved.length === 0)
      return { status: 'connected', message: 'Redis connection healthy', latency: this.#latency, lastError: this.#lastError, ...common };
    const last = this.#lastError;
    return {
      status: 'disconnected',
      message: last ? `${last.message} — ${last.hint}` : 'Redis configured but not connected yet',
      latency: null,
      lastError: last,
      ...common,
    };
  }

  /**
   * Lets in-flight commands finish (QUIT is queued behind them, bounded by the command
   * timeout), then closes every client. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#probeTimer) clearInterval(this.#probeTimer);
    this.#watchdog?.stop();
    this.emit('closed');
    const clients = [...this.#dedicated, ...(this.#client ? [this.#client] : [])];
    await Promise.all(clients.map((c) => this.#quit(c)));
    this.#dedicated.clear();
    this.removeAllListeners();
  }

  async #quit(client: RedisClient): Promise<void> {
    if (client.status === 'end') return;
    if (client.status !== 'ready') {
      client.disconnect(false);
      return;
    }
    // Commands of this tick are still corked (write-batching.ts); QUIT must queue behind them.
    await new Promise((resolve) => setImmediate(resolve));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.quit().catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, this.config.commandTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if ((client.status as string) !== 'end') client.disconnect(false);
  }
}

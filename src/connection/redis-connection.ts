import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger, RedkitConfig } from '../config/types.js';
import { ClosedError, ConfigError, RedisUnavailableError, RedkitError } from '../errors.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { classifyError, roleError, type ClassifiedError } from './classify.js';
import { redactError } from './redact.js';
import { mapReplyError } from './reply-errors.js';
import { batchWritesPerTick } from './batching/write-batching.js';
import { SharedSubscriber } from './subscriber.js';
import { StallWatchdog, stallError, stallThresholdMs } from './watchdog.js';
import { ServerWatch, type HealthWarning } from './server-identity.js';
import { readRole, reviveOnEnd, sentinelOptions, type ServerRole } from './sentinel.js';

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
  kind: 'memory' | 'single' | 'sentinel';
  /** `host:port` of the server the shared client is connected to, or null while not connected. */
  master: string | null;
  /** That server's answer to `ROLE`, or null when unknown (not connected, or ROLE not permitted). */
  role: ServerRole | null;
  /** When the sentinels last moved the master under redkit (ISO 8601), or null. */
  lastFailoverAt: string | null;
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
  /** ioredis options to override (e.g. `maxRetriesPerRequest: null` for blocking BullMQ workers). */
  overrides?: Partial<RedisOptions>;
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
  #client: Redis | null = null;
  #dedicated = new Set<Redis>();
  #state: ConnectionState;
  #since = new Date();
  #lastError: (ClassifiedError & { at: string }) | null = null;
  #probeTimer: NodeJS.Timeout | null = null;
  /** When the shared client last read anything from Redis (any reply proves it alive). */
  #heardAt = performance.now();
  #probeRun: Promise<void> | null = null;
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

  constructor(config: RedkitConfig, logger: Logger, options: ConnectionOptions | BackoffOptions = {}) {
    super();
    // Until the connection speaks Cluster, connecting to the first seed would silently write to
    // the wrong node (only the keys of its slots land; the rest fail with MOVED).
    if (config.topology === 'cluster') {
      throw new ConfigError(
        'REDIS_CLUSTER_NODES',
        'Redis Cluster is configured, but Cluster support is not there yet in this redkit version: unset REDIS_CLUSTER_NODES (and REDIS_CLUSTER) and point REDIS_URL at one server, or use Sentinel (REDIS_SENTINELS) for high availability',
      );
    }
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

  /** The shared command client, or null in standalone mode or before `start()`. */
  get client(): Redis | null {
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
    batchWritesPerTick(client);
    this.#client = client;
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
    client.on('error', (err: unknown) => this.#recordError(err));
    client.on('close', () => {
      this.#roleOk = false;
      if (this.#closed) return;
      if (this.#state === 'connected' || this.#state === 'connecting') this.#setState('disconnected', this.#lastError);
    });
    this.#startProbe();
    await new Promise<void>((resolve) => {
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
    // One PING (bounded by the command timeout) so that health has a latency from the start.
    if (this.isReady && this.#firstProbe) await this.#firstProbe;
  }

  /**
   * A dedicated client with the shared settings (for SUBSCRIBE, blocking commands, BullMQ).
   * It is closed by `close()`. Throws in standalone mode.
   */
  dedicatedClient(options: DedicatedClientOptions): Redis {
    if (this.#closed) throw new ClosedError('the Redis connection');
    if (this.config.mode === 'standalone') {
      throw new RedkitError('E_STANDALONE', `cannot create a Redis client for "${options.purpose}" in standalone mode: configure REDIS_URL or REDIS_HOST`);
    }
    const client = this.#make(options.purpose, options.overrides ?? {});
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

  #make(purpose: string, overrides: Partial<RedisOptions>): Redis {
    const cfg = this.config;
    const client = new Redis({
      ...(cfg.topology === 'sentinel'
        ? sentinelOptions(cfg, (attempt) => this.#retryDelay(`${purpose} (sentinels)`, attempt))
        : { host: cfg.host, port: cfg.port }),
      username: cfg.username,
      password: cfg.password,
      db: cfg.db,
      tls: cfg.tls === false ? undefined : { ...(isIP(cfg.host ?? '') ? {} : { servername: cfg.host }), ...cfg.tls },
      connectTimeout: cfg.connectTimeoutMs,
      commandTimeout: cfg.commandTimeoutMs,
      connectionName: `redkit:${cfg.instanceId}:${purpose}`,
      lazyConnect: true,
      retryStrategy: (attempt: number) => this.#retryDelay(purpose, attempt),
      // READONLY: this server was demoted (failover) or is a replica. Reconnecting re-resolves the
      // master through the sentinels; 2 resends the command there (it was not executed here).
      reconnectOnError: (err: Error) => (/^READONLY/.test(err.message) ? 2 : false),
      ...overrides,
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
    let heard: unknown = null;
    this.#probeTimer = setInterval(
      () => {
        const client = this.#client;
        const stream = client?.stream;
        if (stream && stream !== heard) {
          heard = stream;
          stream.on('data', () => {
            this.#heardAt = performance.now();
          });
        }
        if (client && this.#state === 'connected' && performance.now() - this.#heardAt < this.config.healthIntervalMs) {
          if (this.#server.markerDue) void this.#server.check(client);
          return;
        }
        void this.#probe();
      },
      Math.max(20, Math.round(this.config.healthIntervalMs / 4)),
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
    if (this.#probing || !client || client.status !== 'ready') return;
    this.#probing = true;
    const started = performance.now();
    try {
      await client.ping();
      this.#heardAt = performance.now();
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
  run<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
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
    if (name === 'ReplyError' && this.config.topology === 'sentinel' && /^READONLY/.test(String((err as Error).message))) {
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
    const since = this.#since.toISOString();
    const topology: RedisTopologyHealth = {
      kind: this.config.topology === 'sentinel' ? 'sentinel' : this.config.topology === 'memory' ? 'memory' : 'single',
      master: this.isReady ? this.#master : null,
      role: this.#role,
      lastFailoverAt: this.#server.lastFailoverAt,
    };
    const common = { since, lastRestartAt: this.#server.lastRestartAt, warnings: [...this.#server.warnings], topology };
    if (this.config.mode === 'standalone') {
      return { status: 'not_configured', message: 'Redis not configured: running standalone (in-memory)', latency: null, lastError: null, ...common };
    }
    if (this.isReady) return { status: 'connected', message: 'Redis connection healthy', latency: this.#latency, lastError: this.#lastError, ...common };
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

  async #quit(client: Redis): Promise<void> {
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

// How each ioredis client is built (single server, Sentinel, or Cluster): the options every
// connection shares. Only the connection calls it (the one place redkit creates clients).
import { isIP } from 'node:net';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger, RedkitConfig } from '../config/types.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { clusterOptions, type RedisClient } from './cluster.js';
import { redactError } from './redact.js';
import { reviveOnEnd, sentinelOptions } from './sentinel.js';

/** Options of a dedicated client made with `dedicatedClient`. */
export interface DedicatedClientOptions {
  /** Shown in `CLIENT LIST` as `redkit:<instance>:<purpose>`. */
  purpose: string;
  /** ioredis options to override (e.g. `maxRetriesPerRequest: null` for blocking BullMQ workers); on a cluster, they apply to every node. */
  overrides?: Partial<RedisOptions>;
  /** Cluster only: ioredis Cluster options to override (e.g. `shardedSubscribers`). */
  clusterOverrides?: Partial<ClusterOptions>;
}

/** What the connection lends the clients it makes. */
export interface ClientHooks {
  /** Reconnect delay for `purpose`'s attempt (ms), or null to stop. */
  retryDelay(purpose: string, attempt: number): number | null;
  /** Delay before reviving a Sentinel client that ioredis left in `end`. */
  reviveDelay(attempt: number): number;
  isClosed(): boolean;
  logger: Logger;
}

/** A client for `purpose` on the configured topology, not connected yet (`lazyConnect` unless overridden). */
export function makeClient(
  cfg: RedkitConfig,
  purpose: string,
  overrides: Partial<RedisOptions>,
  clusterOverrides: Partial<ClusterOptions> | undefined,
  hooks: ClientHooks,
): RedisClient {
  if (cfg.topology === 'cluster') {
    // Cluster-level, not per node: retries (clusterNodeRetryStrategy), the offline queue (ioredis
    // keeps it on per node) and lazyConnect (a non-lazy node connected on its own and, the cluster
    // not up yet, the Cluster never retried: a worker made before its Redis never took a job).
    const { retryStrategy: _single, enableOfflineQueue, lazyConnect: _lazy, ...nodeOverrides } = overrides;
    const nodeOptions = serverOptions(cfg, purpose, nodeOverrides, hooks);
    // A cluster has one db (0): SELECT is refused.
    delete nodeOptions.db;
    return endWaitingNodesOnDisconnect(
      new Cluster(
        cfg.clusterNodes.map((n) => ({ host: n.host, port: n.port })),
        clusterOptions(cfg, nodeOptions, (attempt) => hooks.retryDelay(purpose, attempt), {
          ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
          ...(overrides.lazyConnect !== undefined ? { lazyConnect: overrides.lazyConnect } : {}),
          ...clusterOverrides,
        }),
      ),
    );
  }
  const client = new Redis({
    ...(cfg.topology === 'sentinel'
      ? sentinelOptions(cfg, (attempt) => hooks.retryDelay(`${purpose} (sentinels)`, attempt))
      : { host: cfg.host, port: cfg.port }),
    ...serverOptions(cfg, purpose, overrides, hooks),
  });
  if (cfg.topology === 'sentinel') reviveOnEnd(client, hooks.isClosed, hooks.reviveDelay, hooks.logger);
  return endWhenWaiting(client);
}

/**
 * ioredis 6.0.0: a cluster node connection told to disconnect while it waits to reconnect (its
 * socket already gone) only clears its timer. It never ends, and a command in its offline queue
 * never settles: a worker's BZPOPMIN sent while Redis was down kept BullMQ's wait watchdog (a ref'd
 * timer of drainDelay + 1 s) holding the process for ~31 s after close. Such a node is ended as a
 * closed socket would end it. BullMQ's duplicates (its blocking connection) get the same.
 */
function endWaitingNodesOnDisconnect(cluster: Cluster): Cluster {
  cluster.on('+node', (node: Redis) => endWhenWaiting(node));
  const duplicate = cluster.duplicate.bind(cluster);
  cluster.duplicate = (...args: Parameters<Cluster['duplicate']>) => endWaitingNodesOnDisconnect(duplicate(...args));
  return cluster;
}

/** The same for one server's client (single, Sentinel) and its duplicates. */
function endWhenWaiting(client: Redis): Redis {
  const disconnect = client.disconnect.bind(client);
  client.disconnect = (reconnect = false) => {
    const waiting = !reconnect && client.status === 'reconnecting';
    disconnect(reconnect);
    if (!waiting) return;
    const internals = client as unknown as { flushQueue(error: Error): void; setStatus(status: string): void };
    internals.flushQueue(new Error('Connection is closed.'));
    internals.setStatus('end');
  };
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (...args: Parameters<Redis['duplicate']>) => endWhenWaiting(duplicate(...args));
  return client;
}

/** What every server connection of `purpose` shares: credentials, TLS, timeouts, its name in CLIENT LIST. */
function serverOptions(cfg: RedkitConfig, purpose: string, overrides: Partial<RedisOptions>, hooks: ClientHooks): Partial<RedisOptions> {
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
    retryStrategy: (attempt: number) => hooks.retryDelay(purpose, attempt),
    // READONLY: this server was demoted (failover) or is a replica. Reconnecting re-resolves the
    // master through the sentinels; 2 resends the command there (it was not executed here).
    reconnectOnError: (err: Error) => (/^READONLY/.test(err.message) ? 2 : false),
    ...overrides,
  };
}

/** QUIT after this tick's corked commands (bounded by `timeoutMs`), then a hard disconnect if it did not end. */
export async function quitClient(client: RedisClient, timeoutMs: number): Promise<void> {
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
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if ((client.status as string) !== 'end') client.disconnect(false);
}

/**
 * Every client of one connection: made with the shared options, reconnecting with the shared
 * backoff (the command client's attempts logged), closed together.
 */
export class ClientPool {
  readonly #config: RedkitConfig;
  readonly #logger: Logger;
  readonly #backoff: BackoffOptions;
  readonly #secrets: Array<string | undefined>;
  readonly #isClosed: () => boolean;
  readonly #lastReason: () => string | undefined;
  readonly #dedicated = new Set<RedisClient>();
  #lastRetryLog = 0;
  /** The command client's current reconnect attempt (0 once connected). */
  attempt = 0;

  constructor(
    config: RedkitConfig,
    logger: Logger,
    backoff: BackoffOptions,
    secrets: Array<string | undefined>,
    isClosed: () => boolean,
    lastReason: () => string | undefined,
  ) {
    this.#config = config;
    this.#logger = logger;
    this.#backoff = backoff;
    this.#secrets = secrets;
    this.#isClosed = isClosed;
    this.#lastReason = lastReason;
  }

  /** A client for `purpose`, not connected yet. */
  make(purpose: string, overrides: Partial<RedisOptions>, clusterOverrides?: Partial<ClusterOptions>): RedisClient {
    return makeClient(this.#config, purpose, overrides, clusterOverrides, {
      retryDelay: (what, attempt) => this.#retryDelay(what, attempt),
      reviveDelay: (attempt) => backoffDelay(attempt, this.#backoff),
      isClosed: this.#isClosed,
      logger: this.#logger,
    });
  }

  /** A dedicated client, connecting now unless `lazyConnect` is given; closed by `closeAll`. */
  dedicated(options: DedicatedClientOptions): RedisClient {
    const client = this.make(options.purpose, options.overrides ?? {}, options.clusterOverrides);
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

  /** Closes the dedicated clients and `others` (see quitClient). */
  async closeAll(others: RedisClient[]): Promise<void> {
    const clients = [...this.#dedicated, ...others];
    await Promise.all(clients.map((c) => quitClient(c, this.#config.commandTimeoutMs)));
    this.#dedicated.clear();
  }

  #retryDelay(purpose: string, attempt: number): number | null {
    if (this.#isClosed()) return null;
    const delay = backoffDelay(attempt, this.#backoff);
    if (purpose === 'command') {
      this.attempt = attempt;
      // Logs the first five attempts, then at most one line every 30 s: reconnecting is forever.
      const now = Date.now();
      if (attempt <= 5 || now - this.#lastRetryLog >= 30_000) {
        this.#lastRetryLog = now;
        this.#logger.warn({ attempt, delayMs: delay, reason: this.#lastReason() }, `[Redis] Retry attempt ${attempt}, waiting ${delay}ms`);
      }
    }
    return delay;
  }
}

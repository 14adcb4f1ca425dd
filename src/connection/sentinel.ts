import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger, RedkitConfig } from '../config/types.js';

/** What a server answers to `ROLE` (`slave` is reported as `replica`). */
export type ServerRole = 'master' | 'replica' | 'sentinel';

/**
 * ioredis options that make a client follow the master the sentinels name. `sentinelRetry`
 * bounds the wait between rounds over the sentinels (ms, or null to stop).
 */
export function sentinelOptions(cfg: RedkitConfig, sentinelRetry: (attempt: number) => number | null): Partial<RedisOptions> {
  const first = cfg.sentinels[0]?.host ?? '';
  return {
    sentinels: cfg.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: cfg.sentinelMasterName,
    role: 'master',
    sentinelUsername: cfg.sentinelUsername,
    sentinelPassword: cfg.sentinelPassword,
    sentinelTLS: cfg.sentinelTls === false ? undefined : { ...(isIP(first) ? {} : { servername: first }), ...cfg.sentinelTls },
    // Without it ioredis ignores `tls` for the master and replicas it is sent to.
    enableTLSForSentinelMode: cfg.tls !== false,
    // Subscribes to +switch-master on every sentinel: a graceful failover moves the client at once
    // instead of after the old master's READONLY (raw ioredis runs: ~1,080 → ~100 lost writes).
    failoverDetector: true,
    sentinelCommandTimeout: cfg.connectTimeoutMs,
    sentinelRetryStrategy: sentinelRetry,
  };
}

/**
 * The server's `ROLE`: null when the server refuses it (@admin for ACL users; some providers
 * disable it): the server is then trusted; undefined when the call failed (ask again later).
 */
export async function readRole(client: Redis): Promise<ServerRole | null | undefined> {
  try {
    const first = String(((await client.call('ROLE')) as unknown[])?.[0]);
    return first === 'slave' ? 'replica' : first === 'master' || first === 'sentinel' ? first : null;
  } catch (err) {
    // Any error reply (NOPERM, or a provider that disables or renames ROLE) leaves the role unknown.
    return (err as Error)?.name === 'ReplyError' ? null : undefined;
  }
}

/**
 * ioredis 6.0.0 closes the `+switch-master` subscriptions (one client per sentinel) only on
 * `disconnect()`. A client that ends because its retryStrategy said stop (a closing BullMQ worker
 * during an outage) left them reconnecting to the sentinels for good: the process never exited.
 * Its duplicates (BullMQ's blocking connection) get the same treatment.
 */
function dropFailoverDetectorOnEnd(client: Redis): void {
  client.on('end', () => {
    (client as unknown as { connector?: { failoverDetector?: { cleanup(): void } | null } }).connector?.failoverDetector?.cleanup();
  });
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (...args: Parameters<Redis['duplicate']>) => {
    const copy = duplicate(...args);
    dropFailoverDetectorOnEnd(copy);
    return copy;
  };
}

/**
 * ioredis 6.0.0 can leave a sentinel client in `end` for good when `+switch-master` arrives while
 * it reconnects after a kill -9 (measured by hand on another branch): connects it again, after
 * `delayMs(attempt)`, unless redkit (`isClosed`) or its user (quit / disconnect) closed it.
 */
export function reviveOnEnd(client: Redis, isClosed: () => boolean, delayMs: (attempt: number) => number, logger: Logger): void {
  let closedByUser = false;
  const disconnect = client.disconnect.bind(client);
  const quit = client.quit.bind(client);
  // reconnectOnError's disconnect(true) is ioredis's own reconnect, not a close.
  Object.assign(client, {
    disconnect: (reconnect = false) => {
      if (!reconnect) closedByUser = true;
      disconnect(reconnect);
    },
    quit: (...args: unknown[]) => {
      closedByUser = true;
      return (quit as (...a: unknown[]) => unknown)(...args);
    },
  });
  dropFailoverDetectorOnEnd(client);
  let attempt = 0;
  client.on('ready', () => {
    attempt = 0;
  });
  client.on('end', () => {
    if (isClosed() || closedByUser) return;
    const timer = setTimeout(() => {
      if (!isClosed() && !closedByUser && client.status === 'end') client.connect().catch(() => {});
    }, delayMs(++attempt));
    timer.unref();
    logger.warn({ attempt }, '[Redis] A sentinel client ended while the master moved: connecting it again');
  });
}

/** A client to one sentinel (for `redkit doctor`): no retries, bounded by the connect timeout. */
export function sentinelClient(cfg: RedkitConfig, address: { host: string; port: number }): Redis {
  const client = new Redis({
    host: address.host,
    port: address.port,
    username: cfg.sentinelUsername,
    password: cfg.sentinelPassword,
    tls: cfg.sentinelTls === false ? undefined : { ...(isIP(address.host) ? {} : { servername: address.host }), ...cfg.sentinelTls },
    connectTimeout: cfg.connectTimeoutMs,
    commandTimeout: cfg.connectTimeoutMs,
    connectionName: `redkit:${cfg.instanceId}:doctor-sentinel`,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  client.on('error', () => {
    /* reported by the caller's rejected command */
  });
  return client;
}

/** What one sentinel says about the master group. */
export interface SentinelView {
  address: string;
  /** `host:port` of the master it names, or null. */
  master: string | null;
  /** `SENTINEL CKQUORUM` reply, or its error. */
  quorum: { ok: boolean; message: string };
  /** Replicas it sees up and linked to the master. */
  healthyReplicas: number;
  replicas: number;
  error: string | null;
}

/** Asks one sentinel about `cfg.sentinelMasterName`; never throws. */
export async function askSentinel(cfg: RedkitConfig, address: { host: string; port: number }): Promise<SentinelView> {
  const view: SentinelView = {
    address: `${address.host}:${address.port}`,
    master: null,
    quorum: { ok: false, message: '' },
    healthyReplicas: 0,
    replicas: 0,
    error: null,
  };
  const client = sentinelClient(cfg, address);
  const name = cfg.sentinelMasterName!;
  try {
    await client.connect();
    const addr = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [string, string] | null;
    view.master = addr ? `${addr[0]}:${addr[1]}` : null;
    view.quorum = await client.call('SENTINEL', 'CKQUORUM', name).then(
      (r) => ({ ok: true, message: String(r) }),
      (err: Error) => ({ ok: false, message: err.message }),
    );
    // An unknown master name is an error reply here: the quorum step reports it.
    const replicas = (await client.call('SENTINEL', 'REPLICAS', name).catch(() => [])) as string[][];
    view.replicas = replicas.length;
    view.healthyReplicas = replicas.map(flatPairs).filter((r) => !/s_down|o_down|disconnected/.test(r.flags ?? '') && r['master-link-status'] === 'ok').length;
  } catch (err) {
    view.error = String((err as Error)?.message ?? err);
  } finally {
    client.disconnect();
  }
  return view;
}

function flatPairs(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

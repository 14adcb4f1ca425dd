// Redis Cluster: the ioredis Cluster options redkit needs, and the health view of a cluster
// (every slot range served by a master that answers). redis-connection.ts owns the client.
import { Cluster, type ClusterOptions, type Redis, type RedisOptions } from 'ioredis';
import type { RedkitConfig } from '../config/types.js';

/** A client of either topology: one server (single, Sentinel) or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** True when `client` is an ioredis Cluster (commands are routed per slot, pipelines must stay in one slot). */
export function isCluster(client: RedisClient | null | undefined): client is Cluster {
  return client instanceof Cluster;
}

/**
 * ioredis Cluster options. Why each non-default:
 * - `enableOfflineQueue: false`: fail fast while the cluster is down, as the single client does.
 *   The nodes' own offline queue stays on (ioredis forces it): slot refreshes sent to a node that is
 *   still connecting must wait for it (ioredis #581).
 * - `clusterNodeRetryStrategy`: by default a node whose connection closes is never reconnected, and
 *   only a MOVED refreshes the slots; a master restarted in place would stay unreachable.
 * - `slotsRefreshInterval`: the map is refreshed every 5 s even when no MOVED arrives (a promoted
 *   replica is found without a failed call first).
 * - `scaleReads: 'master'`: replicas lag; every capability reads its own writes.
 * - `dnsLookup` identity: managed clusters (ElastiCache TLS) announce host names their certificate
 *   names; resolving them to IPs would break the TLS host check.
 */
export function clusterOptions(
  cfg: RedkitConfig,
  nodeOptions: Partial<RedisOptions>,
  retry: (attempt: number) => number | null,
  overrides: Partial<ClusterOptions> = {},
): ClusterOptions {
  return {
    redisOptions: nodeOptions as ClusterOptions['redisOptions'],
    natMap: cfg.clusterNatMap as ClusterOptions['natMap'],
    scaleReads: 'master',
    enableOfflineQueue: false,
    enableReadyCheck: true,
    lazyConnect: true,
    clusterRetryStrategy: (attempt) => retry(attempt),
    clusterNodeRetryStrategy: (attempt: number) => Math.min(100 * attempt, 2000),
    slotsRefreshTimeout: cfg.connectTimeoutMs,
    slotsRefreshInterval: 5000,
    maxRedirections: 16,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    dnsLookup: (address, callback) => callback(null, address),
    ...overrides,
  };
}

/** A slot range and the master serving it, as the client's slot map has it. */
export interface SlotRange {
  from: number;
  to: number;
  /** `host:port` of the master, or null when no node serves the range. */
  master: string | null;
}

/** What a cluster probe found: the masters that answered, and the ranges without an answering master. */
export interface ClusterView {
  masters: string[];
  /** Ranges whose master is missing or did not answer. Empty when the whole keyspace is served. */
  unserved: SlotRange[];
  /** Slowest master's PING, in ms. */
  latency: number | null;
}

const SLOTS = 16384;

/** The client's slot map as ranges (ioredis keeps `slots[slot] = [masterKey, ...replicaKeys]`). */
export function slotRanges(cluster: Cluster): SlotRange[] {
  const slots = (cluster as unknown as { slots: Array<string[] | undefined> }).slots;
  const ranges: SlotRange[] = [];
  for (let slot = 0; slot < SLOTS; slot++) {
    const master = slots[slot]?.[0] ?? null;
    const last = ranges[ranges.length - 1];
    if (last && last.master === master && last.to === slot - 1) last.to = slot;
    else ranges.push({ from: slot, to: slot, master });
  }
  return ranges;
}

/**
 * PINGs every master of the slot map (each bounded by `timeoutMs`), and reports the ranges left
 * without an answering master. One PING per master: the idle cost of a probe on a cluster.
 */
export async function probeCluster(cluster: Cluster, timeoutMs: number): Promise<ClusterView> {
  const ranges = slotRanges(cluster);
  const keys = [...new Set(ranges.map((r) => r.master).filter((m): m is string => m !== null))];
  const pool = (cluster as unknown as { connectionPool: { getInstanceByKey(key: string): Redis | undefined } }).connectionPool;
  let slowest: number | null = null;
  const answered = new Set<string>();
  await Promise.all(
    keys.map(async (key) => {
      const node = pool.getInstanceByKey(key);
      if (!node || (node.status !== 'ready' && node.status !== 'connect' && node.status !== 'wait')) return;
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          node.ping(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
          }),
        ]);
        answered.add(key);
        const ms = Math.round((performance.now() - started) * 100) / 100;
        slowest = slowest === null ? ms : Math.max(slowest, ms);
      } catch {
        // Not answering: its ranges are unserved.
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { masters: keys, unserved: ranges.filter((r) => r.master === null || !answered.has(r.master)), latency: slowest };
}

/** `0-5460 (127.0.0.1:7000), 10923-16383 (no master)`: ranges for messages. */
export function describeRanges(ranges: SlotRange[]): string {
  const shown = ranges.slice(0, 4).map((r) => `${r.from}-${r.to} (${r.master ?? 'no master'})`);
  return ranges.length > 4 ? `${shown.join(', ')} and ${ranges.length - 4} more` : shown.join(', ');
}

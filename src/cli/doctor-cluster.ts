// `redkit doctor` on a Redis Cluster: the seed must be a cluster node, every announced node must
// answer, every slot must be served, and each master is checked for replicas, maxmemory-policy
// and queue keys from before the hash-tagged layout.
import type { Redis } from 'ioredis';
import type { RedkitConfig } from '../config/types.js';
import { RedisConnection } from '../connection/redis-connection.js';
import { silentLogger } from '../logger.js';
import type { DoctorStep } from './doctor-step.js';

const SLOTS = 16384;

/** The config of one node of the cluster, as a single server (the doctor talks to each node alone). */
export function nodeConfig(config: RedkitConfig, host: string, port: number): RedkitConfig {
  return { ...config, topology: 'single', host, port, clusterNodes: [] } as RedkitConfig;
}

interface NodeLine {
  id: string;
  host: string;
  port: number;
  flags: string[];
  masterId: string | null;
  slots: Array<[number, number]>;
}

function parseNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const parts = line.split(' ');
      const address = parts[1]!.split('@')[0]!;
      const colon = address.lastIndexOf(':');
      const slots: Array<[number, number]> = [];
      for (const range of parts.slice(8)) {
        if (range.startsWith('[')) continue;
        const [a, b] = range.split('-').map(Number);
        slots.push([a!, b ?? a!]);
      }
      return {
        id: parts[0]!,
        host: address.slice(0, colon),
        port: Number(address.slice(colon + 1)),
        flags: parts[2]!.split(','),
        masterId: parts[3] === '-' ? null : parts[3]!,
        slots,
      };
    });
}

/** Runs `fn` on a fresh client of node `host:port` (credentials and TLS from the config), bounded by the connect timeout. */
async function onNode<T>(config: RedkitConfig, host: string, port: number, fn: (client: Redis) => Promise<T>): Promise<T> {
  const mapped = config.clusterNatMap?.[`${host}:${port}`] as { host: string; port: number } | undefined;
  const connection = new RedisConnection(nodeConfig(config, mapped?.host ?? host, mapped?.port ?? port), silentLogger);
  const client = connection.dedicatedClient({
    purpose: 'doctor',
    overrides: { lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: true, maxRetriesPerRequest: 0, connectTimeout: config.connectTimeoutMs },
  }) as Redis;
  client.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      client.connect().then(() => fn(client)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${config.connectTimeoutMs} ms`)), config.connectTimeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await connection.close();
  }
}

/**
 * The cluster steps, from the seed's client (already connected and authenticated). Replaces the
 * single-server role and server checks: a cluster replica is a fine seed, a replica of a plain
 * server or a sentinel port is not.
 */
export async function clusterSteps(config: RedkitConfig, seed: Redis, seedTarget: string): Promise<DoctorStep[]> {
  const steps: DoctorStep[] = [];
  const nodesText = await seed.call('CLUSTER', 'NODES').then(String, (err: Error) => err);
  if (nodesText instanceof Error) {
    const role = (await seed.call('ROLE').catch(() => null)) as unknown[] | null;
    if (role?.[0] === 'sentinel')
      steps.push({
        name: 'topology',
        status: 'fail',
        detail: `${seedTarget} is a Redis Sentinel, not a cluster node`,
        fix: 'set REDIS_SENTINELS=<this host:port> and REDIS_SENTINEL_MASTER_NAME instead of REDIS_CLUSTER_NODES',
      });
    else
      steps.push({
        name: 'topology',
        status: 'fail',
        detail: `${seedTarget} is not a Redis Cluster node (${nodesText.message.split('\n')[0]})${role ? ` but a ${String(role[0])}` : ''}`,
        fix: 'unset REDIS_CLUSTER / REDIS_CLUSTER_NODES and use REDIS_URL for a single server, or point REDIS_CLUSTER_NODES at the cluster',
      });
    return steps;
  }
  const lines = parseNodes(nodesText);
  const seedLine = lines.find((l) => l.flags.includes('myself'));
  const failed = (l: NodeLine) => l.flags.includes('fail') || l.flags.includes('noaddr') || l.flags.includes('handshake');
  const masters = lines.filter((l) => l.flags.includes('master') && !failed(l) && l.slots.length > 0);
  steps.push({
    name: 'topology',
    status: 'ok',
    detail: `Redis Cluster: ${masters.length} masters, ${lines.length - masters.length} other nodes${seedLine?.flags.includes('slave') ? ` (seed ${seedTarget} is a replica: fine, the client finds the masters)` : ''}`,
  });

  // Every announced node, reached on its own.
  const announced = lines.filter((l) => !l.flags.includes('noaddr') && l.port > 0);
  const unreachable: string[] = [];
  const policies = new Map<string, string>();
  const oldQueueKeys = new Map<string, number>();
  await Promise.all(
    announced.map(async (l) => {
      const at = `${l.host}:${l.port}`;
      try {
        await onNode(config, l.host, l.port, async (client) => {
          await client.ping();
          if (!masters.includes(l)) return;
          const info = await client.info('memory').catch(() => null);
          policies.set(at, info ? (/^maxmemory_policy:(.*)$/m.exec(info)?.[1]?.trim() ?? 'unknown') : 'refused');
          let cursor = '0';
          let old = 0;
          let scanned = 0;
          // Bounded: a warning needs only to know that some exist.
          do {
            const [next, keys] = await client.scan(cursor, 'MATCH', `${config.prefix}:queue:*`, 'COUNT', 1000);
            cursor = next;
            scanned++;
            old += keys.filter((k) => !k.includes('{')).length;
          } while (cursor !== '0' && scanned < 100 && old === 0);
          if (old > 0) oldQueueKeys.set(at, old);
        });
      } catch (err) {
        unreachable.push(`${at} (${String((err as Error).message).slice(0, 80)})`);
      }
    }),
  );
  steps.push(
    unreachable.length === 0
      ? { name: 'nodes', status: 'ok', detail: `all ${announced.length} announced nodes answer` }
      : {
          name: 'nodes',
          status: 'fail',
          detail: `${unreachable.length}/${announced.length} announced nodes do not answer: ${unreachable.join(', ')}`,
          fix: 'every node must be reachable from this host at the address it announces: check the network, or set REDIS_CLUSTER_NAT_MAP (Docker, NAT)',
        },
  );

  const served = masters.reduce((n, m) => n + m.slots.reduce((s, [a, b]) => s + b - a + 1, 0), 0);
  steps.push(
    served === SLOTS
      ? { name: 'slots', status: 'ok', detail: `all ${SLOTS} slots served` }
      : {
          name: 'slots',
          status: 'fail',
          detail: `${SLOTS - served} of ${SLOTS} slots have no live master`,
          fix: 'calls to those slots fail: restart the failed master or promote a replica (CLUSTER FAILOVER), then `redis-cli --cluster check`',
        },
  );

  const alone = masters.filter((m) => !lines.some((l) => l.masterId === m.id && !failed(l)));
  steps.push(
    alone.length === 0
      ? {
          name: 'replicas',
          status: 'ok',
          detail: masters.map((m) => `${m.host}:${m.port}: ${lines.filter((l) => l.masterId === m.id && !failed(l)).length}`).join(', '),
        }
      : {
          name: 'replicas',
          status: 'warn',
          detail: `masters without a live replica: ${alone.map((m) => `${m.host}:${m.port}`).join(', ')}`,
          fix: 'a master without a replica leaves its slots unserved until it is back: add a replica per master',
        },
  );

  const bad = [...policies].filter(([, p]) => p !== 'noeviction');
  steps.push(
    bad.length === 0
      ? { name: 'maxmemory-policy', status: 'ok', detail: `noeviction on all ${policies.size} masters` }
      : {
          name: 'maxmemory-policy',
          status: 'warn',
          detail: bad.map(([at, p]) => `${at}: ${p}`).join(', '),
          fix: 'queues and locks need keys that are never evicted: set maxmemory-policy noeviction on every master (or use a separate Redis for cache)',
        },
  );

  steps.push(
    oldQueueKeys.size === 0
      ? { name: 'queue-keys', status: 'ok', detail: 'no untagged queue keys' }
      : {
          name: 'queue-keys',
          status: 'warn',
          detail: `untagged queue keys (${config.prefix}:queue:* without a {…} hash tag) on ${[...oldQueueKeys].map(([at, n]) => `${at} (${n}+)`).join(', ')}`,
          fix: 'these are from a layout that cannot work on a cluster (CROSSSLOT): drain those queues on the old layout, then delete their keys',
        },
  );
  return steps;
}

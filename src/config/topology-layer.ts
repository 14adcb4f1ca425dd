import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { ConfigError } from '../errors.js';
import { SENTINEL_PORT, nodeKey, parseHostList, parseMasterName, parseNatMap, parseSlotSafe, type TopologyUrl } from './topology.js';
import type { HostPort, Topology } from './types.js';

/** Topology fields one source (env, or options) supplies, each with the variable it came from. */
export interface TopologyLayer {
  /** What this source declares: a cluster, a sentinel set, explicitly not a cluster, or nothing. */
  kind?: 'cluster' | 'sentinel' | 'not-cluster';
  cluster?: boolean;
  clusterNodes?: HostPort[];
  clusterNatMap?: Record<string, HostPort>;
  sentinels?: HostPort[];
  sentinelMasterName?: string;
  sentinelUsername?: string;
  sentinelPassword?: string;
  sentinelTls?: boolean | TlsConnectionOptions;
  slotSafe?: boolean | 'auto';
  sources: Partial<Record<Exclude<keyof TopologyLayer, 'sources' | 'kind'>, string>>;
}

type Field = keyof TopologyLayer['sources'];

/** Env variable names of the topology fields. */
export const ENV_NAMES: Record<Field, string> = {
  cluster: 'REDIS_CLUSTER',
  clusterNodes: 'REDIS_CLUSTER_NODES',
  clusterNatMap: 'REDIS_CLUSTER_NAT_MAP',
  sentinels: 'REDIS_SENTINELS',
  sentinelMasterName: 'REDIS_SENTINEL_MASTER_NAME',
  sentinelUsername: 'REDIS_SENTINEL_USERNAME',
  sentinelPassword: 'REDIS_SENTINEL_PASSWORD',
  sentinelTls: 'REDIS_SENTINEL_TLS',
  slotSafe: 'REDIS_SLOT_SAFE',
};

/** Option names of the topology fields (`options.<name>`). */
export const OPTION_NAMES: Record<Field, string> = {
  cluster: 'options.cluster',
  clusterNodes: 'options.clusterNodes',
  clusterNatMap: 'options.clusterNatMap',
  sentinels: 'options.sentinels',
  sentinelMasterName: 'options.sentinelMasterName',
  sentinelUsername: 'options.sentinelUsername',
  sentinelPassword: 'options.sentinelPassword',
  sentinelTls: 'options.sentinelTls',
  slotSafe: 'options.slotSafe',
};

/** The fields that belong to each kind of topology. */
const KIND_FIELDS: Record<'cluster' | 'sentinel', Field[]> = {
  cluster: ['cluster', 'clusterNodes', 'clusterNatMap'],
  sentinel: ['sentinels', 'sentinelMasterName', 'sentinelUsername', 'sentinelPassword', 'sentinelTls'],
};

function parseFlag(raw: unknown, variable: string): boolean {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string') {
    const text = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(text)) return true;
    if (['false', '0', 'no', 'off'].includes(text)) return false;
  }
  throw new ConfigError(variable, `${variable} must be true or false (got "${String(raw)}")`);
}

function parseString(raw: unknown, variable: string): string {
  if (typeof raw !== 'string') throw new ConfigError(variable, `${variable} must be a string`);
  return raw;
}

/**
 * Reads one source's topology fields. `read` returns the raw value of a variable name (undefined
 * when unset); `url` is what that source's `redis+sentinel://` URL said, if it had one.
 */
export function topologyLayer(read: (name: string) => unknown, names: Record<Field, string>, url: TopologyUrl | undefined, urlName: string): TopologyLayer {
  const t: TopologyLayer = { sources: {} };
  const take = <K extends Field>(field: K, parse: (raw: never, variable: string) => TopologyLayer[K]) => {
    const raw = read(names[field]);
    if (raw === undefined) return;
    (t as unknown as Record<string, unknown>)[field] = parse(raw as never, names[field]);
    t.sources[field] = names[field];
  };
  take('cluster', parseFlag);
  take('clusterNodes', (raw: string, v) => parseHostList(raw, v, 6379));
  take('clusterNatMap', (raw: string, v) => parseNatMap(raw, v));
  take('sentinels', (raw: string, v) => parseHostList(raw, v, SENTINEL_PORT));
  take('sentinelMasterName', (raw: unknown, v) => parseMasterName(parseString(raw, v), v));
  take('sentinelUsername', parseString);
  take('sentinelPassword', parseString);
  take('sentinelTls', (raw: unknown, v) => (typeof raw === 'object' && raw !== null ? (raw as TlsConnectionOptions) : parseFlag(raw, v)));
  take('slotSafe', (raw: string | boolean, v) => parseSlotSafe(raw, v));

  if (url?.kind === 'cluster') {
    const same = (a: HostPort[], b: HostPort[]) => a.map(nodeKey).sort().join(',') === b.map(nodeKey).sort().join(',');
    if (t.clusterNodes && !same(t.clusterNodes, url.clusterNodes)) {
      throw new ConfigError(names.clusterNodes, `${names.clusterNodes} and ${urlName} list different cluster nodes; list them in one place only`);
    }
    t.clusterNodes = url.clusterNodes;
    t.sources.clusterNodes = urlName;
  } else if (url) {
    const same = (a: HostPort[], b: HostPort[]) => a.map(nodeKey).sort().join(',') === b.map(nodeKey).sort().join(',');
    if (t.sentinels && !same(t.sentinels, url.sentinels)) {
      throw new ConfigError(names.sentinels, `${names.sentinels} and ${urlName} list different sentinels; list them in one place only`);
    }
    t.sentinels = url.sentinels;
    t.sources.sentinels = urlName;
    if (url.masterName !== undefined) {
      if (t.sentinelMasterName !== undefined && t.sentinelMasterName !== url.masterName) {
        throw new ConfigError(
          names.sentinelMasterName,
          `${names.sentinelMasterName} and ${urlName} disagree on the master name ("${t.sentinelMasterName}" vs "${url.masterName}"); set it in one place only`,
        );
      }
      t.sentinelMasterName = url.masterName;
      t.sources.sentinelMasterName = urlName;
    }
  }

  const clusterSource = t.cluster === true ? t.sources.cluster : t.sources.clusterNodes;
  if (t.cluster === false && t.clusterNodes) {
    throw new ConfigError(names.clusterNodes, `${t.sources.clusterNodes} lists cluster nodes but ${names.cluster} is false; unset one of them`);
  }
  if (clusterSource !== undefined && t.sentinels) {
    throw new ConfigError(
      t.sources.sentinels!,
      `${clusterSource} and ${t.sources.sentinels} are both set: a deployment is either a Redis Cluster or a Sentinel set; keep the variables of the one you run`,
    );
  }
  t.kind = clusterSource !== undefined ? 'cluster' : t.sentinels ? 'sentinel' : t.cluster === false ? 'not-cluster' : undefined;
  return t;
}

/** The connection fields the topology check needs from the merged host layer. */
export interface HostFields {
  host?: string;
  port?: number;
  db?: number;
  tls?: boolean | TlsConnectionOptions;
  sources: Record<string, string>;
}

/** The topology part of a resolved config (before `memory` is decided). */
export interface ResolvedTopology {
  topology: Exclude<Topology, 'memory'>;
  clusterNodes: HostPort[];
  clusterNatMap: Record<string, HostPort> | undefined;
  sentinels: HostPort[];
  sentinelMasterName: string | undefined;
  sentinelUsername: string | undefined;
  sentinelPassword: string | undefined;
  /** `undefined`: follow the data nodes' TLS. */
  sentinelTls: boolean | TlsConnectionOptions | undefined;
  slotSafe: boolean | 'auto';
  sources: Record<string, string>;
}

/**
 * Merges options over env (the topology a source declares wins whole: options.cluster over env
 * sentinels; fields of the winning kind merge field by field) and checks the combination.
 * `single` without a host is left to the caller (standalone, or a ConfigError).
 */
export function resolveTopology(env: TopologyLayer, options: TopologyLayer, merged: HostFields): ResolvedTopology {
  let topology: ResolvedTopology['topology'];
  if (options.kind === 'cluster' || options.kind === 'sentinel') topology = options.kind;
  else if (options.kind === 'not-cluster') topology = env.kind === 'sentinel' ? 'sentinel' : 'single';
  else topology = env.kind === 'cluster' || env.kind === 'sentinel' ? env.kind : 'single';

  const t: TopologyLayer = { ...env, sources: { ...env.sources } };
  if ((env.kind === 'cluster' || env.kind === 'sentinel') && topology !== env.kind) {
    // Options chose another kind than env: env's fields of its own kind are overridden, not strays.
    for (const field of KIND_FIELDS[env.kind]) {
      delete t[field];
      delete t.sources[field];
    }
  }
  for (const field of Object.keys(options.sources) as Field[]) {
    (t as unknown as Record<string, unknown>)[field] = options[field];
    t.sources[field] = options.sources[field];
  }
  if (topology !== 'sentinel') {
    delete t.sentinels;
    delete t.sources.sentinels;
  }
  if (topology !== 'cluster') {
    delete t.clusterNodes;
    delete t.sources.clusterNodes;
  }

  if (t.sentinelMasterName !== undefined && !t.sentinels) {
    throw new ConfigError(
      t.sources.sentinelMasterName!,
      `${t.sources.sentinelMasterName} is set but no sentinels are: list them in REDIS_SENTINELS (host[:26379],…) or use a redis+sentinel:// URL, or unset ${t.sources.sentinelMasterName}`,
    );
  }
  if (t.clusterNatMap && topology !== 'cluster') {
    throw new ConfigError(
      t.sources.clusterNatMap!,
      `${t.sources.clusterNatMap} applies to Redis Cluster only; set REDIS_CLUSTER=true or REDIS_CLUSTER_NODES, or unset ${t.sources.clusterNatMap}`,
    );
  }
  const out: ResolvedTopology = {
    topology,
    clusterNodes: [],
    clusterNatMap: undefined,
    sentinels: [],
    sentinelMasterName: undefined,
    sentinelUsername: undefined,
    sentinelPassword: undefined,
    sentinelTls: undefined,
    slotSafe: t.slotSafe ?? 'auto',
    sources: {},
  };
  // Only the fields this topology uses are reported as sources (doctor prints them).
  for (const field of ['cluster', 'slotSafe', ...(topology === 'cluster' || topology === 'sentinel' ? KIND_FIELDS[topology] : [])] as Field[]) {
    if (t.sources[field] !== undefined) out.sources[field] = t.sources[field]!;
  }
  if (topology === 'cluster') {
    const declared = t.sources.clusterNodes ?? t.sources.cluster!;
    const seeds: HostPort[] = [];
    if (merged.host !== undefined) seeds.push({ host: merged.host, port: merged.port ?? 6379 });
    else if (merged.port !== undefined) {
      throw new ConfigError(
        merged.sources.port!,
        `${merged.sources.port} is set but no host: with ${declared} write the port on each node (host:port), or set REDIS_HOST to the configuration endpoint`,
      );
    }
    for (const node of t.clusterNodes ?? []) if (!seeds.some((s) => nodeKey(s) === nodeKey(node))) seeds.push(node);
    if (seeds.length === 0) {
      throw new ConfigError(
        declared,
        `${declared} is set but there is no node to start from: set REDIS_URL or REDIS_HOST to the cluster's configuration (discovery) endpoint, or list nodes in REDIS_CLUSTER_NODES`,
      );
    }
    if (merged.db !== undefined && merged.db !== 0) {
      const v = merged.sources.db!;
      throw new ConfigError(v, `${v} selects database ${merged.db} but Redis Cluster has database 0 only (${declared}); remove the database from ${v}`);
    }
    if (t.slotSafe === false) {
      throw new ConfigError(
        t.sources.slotSafe!,
        `${t.sources.slotSafe} is false but ${declared} makes this a Redis Cluster, where every multi-key operation must keep its keys in one slot; set it to auto or true`,
      );
    }
    out.clusterNodes = seeds;
    out.clusterNatMap = t.clusterNatMap;
    out.slotSafe = true;
  } else if (topology === 'sentinel') {
    const declared = t.sources.sentinels!;
    for (const field of ['host', 'port'] as const) {
      const v = merged.sources[field];
      if (merged[field] !== undefined && v !== undefined) {
        throw new ConfigError(
          v,
          `${v} sets a ${field} but ${declared} makes this a Sentinel set, whose sentinels name the master; unset the ${field} (keep credentials in REDIS_USERNAME / REDIS_PASSWORD or in a redis+sentinel:// URL)`,
        );
      }
    }
    if (t.sentinelMasterName === undefined) {
      const v = declared.startsWith('options.') ? OPTION_NAMES.sentinelMasterName : ENV_NAMES.sentinelMasterName;
      throw new ConfigError(
        v,
        `${declared} is set but no master name: set ${v} to the name in "sentinel monitor <name> …" (often mymaster), or end the redis+sentinel:// URL with /<name>`,
      );
    }
    out.sentinels = t.sentinels!;
    out.sentinelMasterName = t.sentinelMasterName;
    out.sentinelUsername = t.sentinelUsername;
    out.sentinelPassword = t.sentinelPassword;
    out.sentinelTls = t.sentinelTls;
  }
  return out;
}

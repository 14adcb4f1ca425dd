import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';

/** A pino-compatible logger; redkit logs through it and never prints secrets. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Options of `createRedkit()`. Every field mirrors an env var and overrides it
 * (see the README's configuration table for precedence).
 */
export interface RedkitOptions {
  /** `redis://[user:pass@]host[:port][/db]` or `rediss://` for TLS. Env: `REDIS_URL`. */
  url?: string;
  /** Env: `REDIS_HOST`. No host and no url means standalone mode. */
  host?: string;
  /** Env: `REDIS_PORT`. Default 6379. */
  port?: number;
  /** ACL user. Env: `REDIS_USERNAME`. */
  username?: string;
  /** Env: `REDIS_PASSWORD`. Never printed. */
  password?: string;
  /** `true`, or node:tls options (e.g. `{ ca }`). Env: `REDIS_TLS`, and `REDIS_TLS_CA_FILE` for a CA in PEM. */
  tls?: boolean | TlsConnectionOptions;
  /** Logical database, 0–15 on a default server. Env: `REDIS_DB`. */
  db?: number;
  /** Deployment environment; becomes part of every key so environments sharing a Redis never meet. Env: `REDIS_ENVIRONMENT`. */
  environment?: string;
  /** First segment of every key. Env: `REDIS_KEY_PREFIX`. Default `redkit`. */
  keyPrefix?: string;
  /** Bound on connecting (and on startup). Env: `REDIS_CONNECT_TIMEOUT_MS`. Default 5000. */
  connectTimeoutMs?: number;
  /** Bound on every request-path command. Env: `REDIS_COMMAND_TIMEOUT_MS`. Default 2000. */
  commandTimeoutMs?: number;
  /**
   * Longest silence of the command connection before a health PING checks it (replies to real
   * commands count). A killed Redis is seen at once, a stall a command waits on within the stall
   * bound, a stall on an idle connection within 1.25 periods plus that bound. Default 10000.
   */
  healthIntervalMs?: number;
  /** Identifies this process across instances. Env: `INSTANCE_ID`. Default `<hostname>-<pid>-<random>`. */
  instanceId?: string;
  /**
   * Redis Cluster: seed from `url` / `host` (a configuration or discovery endpoint). Implied by
   * `clusterNodes`; `false` overrides a cluster set in env. Env: `REDIS_CLUSTER`.
   */
  cluster?: boolean;
  /** Cluster seed nodes, `"h1:p1,h2:p2"` or an array; port default 6379. Env: `REDIS_CLUSTER_NODES`. */
  clusterNodes?: string | ReadonlyArray<string | HostPort>;
  /**
   * Address to dial for each address the cluster announces (NAT, Docker): ioredis's `natMap` shape
   * `{ 'announced:port': { host, port } }`, or the env string. Env: `REDIS_CLUSTER_NAT_MAP`.
   */
  clusterNatMap?: string | Record<string, HostPort>;
  /** Sentinels, `"h1[:26379],h2[:26379]"` or an array; port default 26379. Env: `REDIS_SENTINELS`. */
  sentinels?: string | ReadonlyArray<string | HostPort>;
  /** Master group name the sentinels monitor. Env: `REDIS_SENTINEL_MASTER_NAME`. */
  sentinelMasterName?: string;
  /** ACL user on the sentinels (not on the master). Env: `REDIS_SENTINEL_USERNAME`. */
  sentinelUsername?: string;
  /** Password on the sentinels. Never printed. Env: `REDIS_SENTINEL_PASSWORD`. */
  sentinelPassword?: string;
  /** TLS to the sentinels: `true` or node:tls options. Env: `REDIS_SENTINEL_TLS`. Default: as `tls`. */
  sentinelTls?: boolean | TlsConnectionOptions;
  /**
   * Keep the keys of every multi-key operation in one hash slot even on one endpoint (proxies that
   * enforce slots: batched scripts, cache batches and unlinks go per slot, BullMQ gets the tagged
   * prefix). `'auto'`: on for a cluster; on one endpoint, turned on by the first `CROSSSLOT` reply
   * (that call fails; one warning; queues made before keep their untagged prefix).
   * Env: `REDIS_SLOT_SAFE`. Default `'auto'`.
   */
  slotSafe?: boolean | 'auto';
  /** Force standalone (in-memory) mode even when Redis env vars are set. */
  standalone?: boolean;
  /** Where redkit logs. Default: warnings and errors as JSON lines on stderr. */
  logger?: Logger;
  /** Read these instead of `process.env` (tests, multi-tenant setups). */
  env?: Record<string, string | undefined>;
}

/** A node's address. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * What redkit talks to: `memory` (no Redis: in-process stores), `single` (one endpoint),
 * `cluster` (Redis Cluster, seeded by `clusterNodes`) or `sentinel` (master found through `sentinels`).
 */
export type Topology = 'memory' | 'single' | 'cluster' | 'sentinel';

/** The validated, resolved configuration. `password` is masked in `toString()`, JSON and `inspect`. */
export interface RedkitConfig {
  readonly mode: 'redis' | 'standalone';
  /** Which kind of deployment the config describes; `memory` exactly when `mode` is `standalone`. */
  readonly topology: Topology;
  /** Single: the endpoint. Cluster: the first seed. Sentinel: undefined (the sentinels name the master). */
  readonly host: string | undefined;
  readonly port: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: false | TlsConnectionOptions;
  readonly db: number;
  /** Cluster seeds (first = `host:port`); empty unless `topology` is `cluster`. */
  readonly clusterNodes: ReadonlyArray<HostPort>;
  /** ioredis `natMap`: announced `host:port` → address to dial; cluster only. */
  readonly clusterNatMap: Readonly<Record<string, HostPort>> | undefined;
  /** Sentinel addresses; empty unless `topology` is `sentinel`. */
  readonly sentinels: ReadonlyArray<HostPort>;
  readonly sentinelMasterName: string | undefined;
  readonly sentinelUsername: string | undefined;
  /** Masked like `password`. */
  readonly sentinelPassword: string | undefined;
  readonly sentinelTls: false | TlsConnectionOptions;
  /** Slot-safe key layout: always `true` on a cluster; `'auto'` elsewhere: off until a `CROSSSLOT` reply turns it on (`connection.slotSafe` tells the live value). */
  readonly slotSafe: boolean | 'auto';
  readonly environment: string | undefined;
  /** `keyPrefix` joined with `environment`: every key starts with it. */
  readonly prefix: string;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly healthIntervalMs: number;
  readonly instanceId: string;
  /** Where each connection field came from, e.g. `{ host: 'REDIS_URL' }`. */
  readonly sources: Readonly<Record<string, string>>;
  /**
   * The topology and addresses, never a secret: `redis://h:p/db`, `redis+cluster://h1:p1,h2:p2`,
   * `redis+sentinel://s1:p,s2:p/master/db` (`rediss…` with TLS), or `standalone`.
   */
  readonly target: string;
}

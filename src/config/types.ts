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
  /** Health probe period; a paused Redis is noticed within one period plus the command timeout. Default 1000. */
  healthIntervalMs?: number;
  /** Identifies this process across instances. Env: `INSTANCE_ID`. Default `<hostname>-<pid>-<random>`. */
  instanceId?: string;
  /** Force standalone (in-memory) mode even when Redis env vars are set. */
  standalone?: boolean;
  /** Where redkit logs. Default: warnings and errors as JSON lines on stderr. */
  logger?: Logger;
  /** Read these instead of `process.env` (tests, multi-tenant setups). */
  env?: Record<string, string | undefined>;
}

/** The validated, resolved configuration. `password` is masked in `toString()`, JSON and `inspect`. */
export interface RedkitConfig {
  readonly mode: 'redis' | 'standalone';
  readonly host: string | undefined;
  readonly port: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: false | TlsConnectionOptions;
  readonly db: number;
  readonly environment: string | undefined;
  /** `keyPrefix` joined with `environment`: every key starts with it. */
  readonly prefix: string;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly healthIntervalMs: number;
  readonly instanceId: string;
  /** Where each connection field came from, e.g. `{ host: 'REDIS_URL' }`. */
  readonly sources: Readonly<Record<string, string>>;
  /** `host:port` with TLS marker, never a secret. */
  readonly target: string;
}

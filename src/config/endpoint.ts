// The endpoint layers (host, port, credentials, TLS, db from a URL or discrete fields), separate from the final merge in parse.ts.
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { ConfigError } from '../errors.js';
import { MASK, maskUrl } from './mask.js';
import { isClusterUrl, isSentinelUrl, parseClusterUrl, parseSentinelUrl, type TopologyUrl } from './topology.js';
import type { RedkitOptions } from './types.js';

/** Environment variables as resolveConfig reads them (`options.env` or `process.env`). */
export type Env = Record<string, string | undefined>;

/** Connection fields one layer (env, or options) supplies, each with where it came from. */
export interface Layer {
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  tls?: boolean | TlsConnectionOptions;
  db?: number;
  sources: Record<string, string>;
  /** What a `redis+sentinel://` or `redis+cluster://` URL of this layer said about the topology. */
  sentinelUrl?: TopologyUrl;
}

/** Empty env values count as unset (dotenv files write `REDIS_PASSWORD=`). */
export function envValue(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function parsePort(raw: string | number, variable: string): number {
  const text = String(raw).trim();
  const port = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(variable, `${variable} must be a whole number from 1 to 65535 (got "${text}"); set it to the port your Redis listens on, e.g. 6379`);
  }
  return port;
}

function parseDb(raw: string | number, variable: string): number {
  const text = String(raw).trim();
  if (!/^\d+$/.test(text)) {
    throw new ConfigError(variable, `${variable} must be a database number, a whole number ≥ 0 (got "${text}"); use 0 unless you know you need another`);
  }
  return Number(text);
}

function parseBool(raw: string, variable: string): boolean {
  const text = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  throw new ConfigError(variable, `${variable} must be true or false (got "${raw}")`);
}

function parseHost(raw: string, variable: string): string {
  const host = raw.trim();
  if (host === '') throw new ConfigError(variable, `${variable} is empty; set it to the Redis hostname or IP, or leave Redis unconfigured for standalone mode`);
  // The value is not echoed: a URL pasted here may carry a password.
  if (/[\s/@]/.test(host))
    throw new ConfigError(variable, `${variable} must be a bare hostname or IP, without scheme, credentials or path; put URLs in REDIS_URL instead`);
  return host;
}

/** Parses a redis:// or rediss:// URL into a layer; the message never repeats the password. */
function parseUrl(raw: string, variable: string): Layer {
  if (isSentinelUrl(raw) || isClusterUrl(raw)) {
    const parsed = isClusterUrl(raw) ? parseClusterUrl(raw, variable) : parseSentinelUrl(raw, variable);
    const layer: Layer = { sources: { tls: variable }, tls: parsed.tls, sentinelUrl: parsed };
    if (parsed.username !== undefined) {
      layer.username = parsed.username;
      layer.sources.username = variable;
    }
    if (parsed.password !== undefined) {
      layer.password = parsed.password;
      layer.sources.password = variable;
    }
    if (parsed.kind === 'sentinel' && parsed.db !== undefined) {
      layer.db = parsed.db;
      layer.sources.db = variable;
    }
    return layer;
  }
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch (_cause) {
    throw new ConfigError(
      variable,
      `${variable} is not a valid URL ("${maskUrl(raw)}"); expected redis://[user:password@]host[:port][/db] or rediss://… for TLS, with special characters in the password percent-encoded`,
      { cause: undefined },
    );
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(
      variable,
      `${variable} has unknown scheme "${url.protocol.replace(/:$/, '')}"; use redis:// or rediss:// (TLS), or redis+sentinel:// / rediss+sentinel:// for Sentinel`,
    );
  }
  if (url.hostname === '') {
    throw new ConfigError(variable, `${variable} has an empty host ("${maskUrl(raw)}"); expected redis://host:port`);
  }
  const layer: Layer = { sources: {} };
  layer.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  layer.sources.host = variable;
  if (url.port !== '') {
    layer.port = parsePort(url.port, `${variable} (port)`);
    layer.sources.port = variable;
  }
  // A password is decoded for use; a malformed escape must not echo it back.
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new ConfigError(variable, `${variable} has a malformed percent-escape in the ${what}; encode special characters with encodeURIComponent`);
    }
  };
  if (url.username !== '') {
    layer.username = decode(url.username, 'username');
    layer.sources.username = variable;
  }
  if (url.password !== '') {
    layer.password = decode(url.password, 'password');
    layer.sources.password = variable;
  }
  layer.tls = url.protocol === 'rediss:';
  layer.sources.tls = variable;
  const path = url.pathname.replace(/^\//, '');
  if (path !== '') {
    layer.db = parseDb(path, `${variable} (database path)`);
    layer.sources.db = variable;
  }
  return layer;
}

/** Puts discrete fields over a URL layer of the same source, reporting disagreements instead of guessing. */
function combine(fromUrl: Layer | undefined, discrete: Layer, urlName: string): Layer {
  if (!fromUrl) return discrete;
  const out: Layer = { ...fromUrl, sources: { ...fromUrl.sources } };
  // A sentinel URL names no host: REDIS_HOST beside it is caught by the topology check, not here.
  for (const field of ['host', 'port', 'username', 'password', 'db'] as const) {
    const value = discrete[field];
    if (value === undefined) continue;
    const existing = fromUrl[field];
    if (existing !== undefined && existing !== value) {
      const shown = field === 'password' ? MASK : `"${String(value)}" vs "${String(existing)}"`;
      throw new ConfigError(discrete.sources[field]!, `${discrete.sources[field]} and ${urlName} disagree on ${field} (${shown}); set it in one place only`);
    }
    (out as unknown as Record<string, unknown>)[field] = value;
    out.sources[field] = discrete.sources[field]!;
  }
  if (discrete.tls !== undefined && Boolean(discrete.tls) !== Boolean(fromUrl.tls)) {
    const scheme = `${fromUrl.tls ? 'rediss' : 'redis'}${fromUrl.sentinelUrl ? `+${fromUrl.sentinelUrl.kind}` : ''}://`;
    throw new ConfigError(
      discrete.sources.tls!,
      `${discrete.sources.tls} says TLS is ${discrete.tls ? 'on' : 'off'} but ${urlName} uses ${scheme}; use rediss:// for TLS or redis:// without, and drop ${discrete.sources.tls}`,
    );
  }
  if (typeof discrete.tls === 'object') {
    out.tls = discrete.tls;
    out.sources.tls = discrete.sources.tls!;
  }
  return out;
}

/** The env layer: REDIS_URL as the base, discrete REDIS_* vars agreeing with it or filling gaps. */
export function envLayer(env: Env): Layer {
  const discrete: Layer = { sources: {} };
  const host = env.REDIS_HOST;
  if (host !== undefined && host !== '') {
    discrete.host = parseHost(host, 'REDIS_HOST');
    discrete.sources.host = 'REDIS_HOST';
  }
  const port = envValue(env, 'REDIS_PORT');
  if (port !== undefined) {
    discrete.port = parsePort(port, 'REDIS_PORT');
    discrete.sources.port = 'REDIS_PORT';
  }
  const username = envValue(env, 'REDIS_USERNAME');
  if (username !== undefined) {
    discrete.username = username;
    discrete.sources.username = 'REDIS_USERNAME';
  }
  const password = envValue(env, 'REDIS_PASSWORD');
  if (password !== undefined) {
    discrete.password = password;
    discrete.sources.password = 'REDIS_PASSWORD';
  }
  const tls = envValue(env, 'REDIS_TLS');
  if (tls !== undefined) {
    discrete.tls = parseBool(tls, 'REDIS_TLS');
    discrete.sources.tls = 'REDIS_TLS';
  }
  const db = envValue(env, 'REDIS_DB');
  if (db !== undefined) {
    discrete.db = parseDb(db, 'REDIS_DB');
    discrete.sources.db = 'REDIS_DB';
  }
  const url = envValue(env, 'REDIS_URL');
  return combine(url === undefined ? undefined : parseUrl(url, 'REDIS_URL'), discrete, 'REDIS_URL');
}

/** The options layer: options.url as the base, discrete options agreeing with it or filling gaps. */
export function optionsLayer(options: RedkitOptions): Layer {
  const discrete: Layer = { sources: {} };
  if (options.host !== undefined) {
    discrete.host = parseHost(options.host, 'options.host');
    discrete.sources.host = 'options.host';
  }
  if (options.port !== undefined) {
    discrete.port = parsePort(options.port, 'options.port');
    discrete.sources.port = 'options.port';
  }
  if (options.username !== undefined) {
    discrete.username = options.username;
    discrete.sources.username = 'options.username';
  }
  if (options.password !== undefined) {
    discrete.password = options.password;
    discrete.sources.password = 'options.password';
  }
  if (options.tls !== undefined) {
    if (typeof options.tls !== 'boolean' && (typeof options.tls !== 'object' || options.tls === null)) {
      throw new ConfigError('options.tls', 'options.tls must be true, false or a node:tls options object');
    }
    discrete.tls = options.tls;
    discrete.sources.tls = 'options.tls';
  }
  if (options.db !== undefined) {
    discrete.db = parseDb(options.db, 'options.db');
    discrete.sources.db = 'options.db';
  }
  return combine(options.url === undefined ? undefined : parseUrl(options.url, 'options.url'), discrete, 'options.url');
}

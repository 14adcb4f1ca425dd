import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { ConfigError } from '../errors.js';
import { MASK, maskUrl } from './mask.js';
import { isSentinelUrl, parseSentinelUrl, type SentinelUrl } from './topology.js';
import { ENV_NAMES, OPTION_NAMES, resolveTopology, topologyLayer } from './topology-layer.js';
import type { RedkitConfig, RedkitOptions } from './types.js';

type Env = Record<string, string | undefined>;

/** Connection fields one layer (env, or options) supplies, each with where it came from. */
interface Layer {
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  tls?: boolean | TlsConnectionOptions;
  db?: number;
  sources: Record<string, string>;
  /** What a `redis+sentinel://` URL of this layer said about the sentinels. */
  sentinelUrl?: SentinelUrl;
}

const NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** Empty env values count as unset (dotenv files write `REDIS_PASSWORD=`). */
function envValue(env: Env, name: string): string | undefined {
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

function parseMs(raw: string | number | undefined, variable: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const text = String(raw).trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || value <= 0) {
    throw new ConfigError(variable, `${variable} must be a whole number of milliseconds > 0 (got "${text}")`);
  }
  return value;
}

function parseHost(raw: string, variable: string): string {
  const host = raw.trim();
  if (host === '') throw new ConfigError(variable, `${variable} is empty; set it to the Redis hostname or IP, or leave Redis unconfigured for standalone mode`);
  // The value is not echoed: a URL pasted here may carry a password.
  if (/[\s/@]/.test(host))
    throw new ConfigError(variable, `${variable} must be a bare hostname or IP, without scheme, credentials or path; put URLs in REDIS_URL instead`);
  return host;
}

function parseName(raw: string, variable: string): string {
  if (!NAME_PATTERN.test(raw)) {
    throw new ConfigError(variable, `${variable} may hold only letters, digits, ".", "_" and "-" (got "${raw}")`);
  }
  return raw;
}

/** A key prefix or environment: a name, and never a brace, which would move the hash tags redkit adds. */
function parseKeyPart(raw: string, variable: string): string {
  if (/[{}]/.test(raw)) {
    throw new ConfigError(
      variable,
      `${variable} may not contain "{" or "}" (got "${raw}"): redkit wraps key parts in {…} hash tags so that keys used together stay in one Redis Cluster slot, and a brace in ${variable} would change which part is hashed`,
    );
  }
  return parseName(raw, variable);
}

/** Parses a redis:// or rediss:// URL into a layer; the message never repeats the password. */
function parseUrl(raw: string, variable: string): Layer {
  if (isSentinelUrl(raw)) {
    const parsed = parseSentinelUrl(raw, variable);
    const layer: Layer = { sources: { tls: variable }, tls: parsed.tls, sentinelUrl: parsed };
    if (parsed.username !== undefined) {
      layer.username = parsed.username;
      layer.sources.username = variable;
    }
    if (parsed.password !== undefined) {
      layer.password = parsed.password;
      layer.sources.password = variable;
    }
    if (parsed.db !== undefined) {
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
    const scheme = `${fromUrl.tls ? 'rediss' : 'redis'}${fromUrl.sentinelUrl ? '+sentinel' : ''}://`;
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

function envLayer(env: Env): Layer {
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

function optionsLayer(options: RedkitOptions): Layer {
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

function defaultInstanceId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

/**
 * Resolves options over env into a validated config. Precedence, field by field:
 * options > env; within one of them, REDIS_URL gives the base and discrete vars may only agree or fill gaps.
 * A topology (cluster, sentinel) declared in options replaces env's whole.
 * @throws ConfigError naming the variable and the fix; never containing a password.
 */
export function resolveConfig(options: RedkitOptions = {}): RedkitConfig {
  const env: Env = options.env ?? process.env;
  const fromEnv = envLayer(env);
  const fromOptions = optionsLayer(options);
  const merged: Layer = { ...fromEnv, sources: { ...fromEnv.sources } };
  for (const [field, source] of Object.entries(fromOptions.sources)) {
    (merged as unknown as Record<string, unknown>)[field] = (fromOptions as unknown as Record<string, unknown>)[field];
    merged.sources[field] = source;
  }
  // A Sentinel set chosen in code overrides env's endpoint: its host and port are not contradictions.
  if (fromOptions.sentinelUrl || options.sentinels !== undefined) {
    for (const field of ['host', 'port'] as const) {
      if (fromOptions[field] === undefined) {
        delete merged[field];
        delete merged.sources[field];
      }
    }
  }
  // options.url replaces REDIS_URL whole, so a sentinel list from REDIS_URL does not survive it.
  const envTopology = topologyLayer((name) => envValue(env, name), ENV_NAMES, options.url === undefined ? fromEnv.sentinelUrl : undefined, 'REDIS_URL');
  const optionTopology = topologyLayer(
    (name) => (options as Record<string, unknown>)[name.slice('options.'.length)],
    OPTION_NAMES,
    fromOptions.sentinelUrl,
    'options.url',
  );
  const topo = resolveTopology(envTopology, optionTopology, merged);
  if (topo.topology === 'single' && merged.host === undefined && Object.keys(merged.sources).length > 0) {
    const given = Object.values(merged.sources).join(', ');
    throw new ConfigError(
      'REDIS_HOST',
      `${given} set but no host: set REDIS_HOST or REDIS_URL (or options.host / options.url), or unset them for standalone mode`,
    );
  }
  const rawEnvironment = options.environment ?? envValue(env, 'REDIS_ENVIRONMENT');
  const environment =
    rawEnvironment === undefined ? undefined : parseKeyPart(rawEnvironment, options.environment !== undefined ? 'options.environment' : 'REDIS_ENVIRONMENT');
  const keyPrefixRaw = options.keyPrefix ?? envValue(env, 'REDIS_KEY_PREFIX') ?? 'redkit';
  const keyPrefix = parseKeyPart(keyPrefixRaw, options.keyPrefix !== undefined ? 'options.keyPrefix' : 'REDIS_KEY_PREFIX');
  const connectTimeoutMs = parseMs(
    options.connectTimeoutMs ?? envValue(env, 'REDIS_CONNECT_TIMEOUT_MS'),
    options.connectTimeoutMs !== undefined ? 'options.connectTimeoutMs' : 'REDIS_CONNECT_TIMEOUT_MS',
    5000,
  );
  const commandTimeoutMs = parseMs(
    options.commandTimeoutMs ?? envValue(env, 'REDIS_COMMAND_TIMEOUT_MS'),
    options.commandTimeoutMs !== undefined ? 'options.commandTimeoutMs' : 'REDIS_COMMAND_TIMEOUT_MS',
    2000,
  );
  const healthIntervalMs = parseMs(options.healthIntervalMs, 'options.healthIntervalMs', 10_000);
  const instanceIdRaw = options.instanceId ?? envValue(env, 'INSTANCE_ID');
  const instanceId =
    instanceIdRaw === undefined ? defaultInstanceId() : parseName(instanceIdRaw, options.instanceId !== undefined ? 'options.instanceId' : 'INSTANCE_ID');

  const standalone = options.standalone === true || (topo.topology === 'single' && merged.host === undefined);
  let tls: false | TlsConnectionOptions = merged.tls === undefined || merged.tls === false ? false : merged.tls === true ? {} : merged.tls;
  const caFile = envValue(env, 'REDIS_TLS_CA_FILE');
  if (caFile !== undefined && !standalone) {
    if (tls === false)
      throw new ConfigError('REDIS_TLS_CA_FILE', 'REDIS_TLS_CA_FILE is set but TLS is off; use rediss:// or REDIS_TLS=true, or unset REDIS_TLS_CA_FILE');
    if (tls.ca === undefined) {
      try {
        tls = { ...tls, ca: readFileSync(caFile, 'utf8') };
      } catch (cause) {
        throw new ConfigError(
          'REDIS_TLS_CA_FILE',
          `REDIS_TLS_CA_FILE "${caFile}" cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'}); point it at the PEM file of your provider's CA`,
        );
      }
    }
  }
  // Sentinels usually sit behind the same CA as the data nodes: their TLS follows unless set.
  const sentinelTls: false | TlsConnectionOptions =
    topo.topology !== 'sentinel'
      ? false
      : topo.sentinelTls === undefined
        ? tls
        : topo.sentinelTls === false
          ? false
          : topo.sentinelTls === true
            ? tls === false
              ? {}
              : tls
            : topo.sentinelTls;
  const port = topo.topology === 'cluster' ? topo.clusterNodes[0]!.port : (merged.port ?? 6379);
  const host = standalone || topo.topology === 'sentinel' ? undefined : topo.topology === 'cluster' ? topo.clusterNodes[0]!.host : merged.host;
  const db = merged.db ?? 0;
  const scheme = tls ? 'rediss' : 'redis';
  const list = (nodes: ReadonlyArray<{ host: string; port: number }>) =>
    nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(',');
  const target = standalone
    ? 'standalone'
    : topo.topology === 'cluster'
      ? `${scheme}+cluster://${list(topo.clusterNodes)}`
      : topo.topology === 'sentinel'
        ? `${scheme}+sentinel://${list(topo.sentinels)}/${topo.sentinelMasterName}/${db}`
        : `${scheme}://${merged.host}:${port}/${db}`;
  const config = {
    mode: standalone ? 'standalone' : 'redis',
    topology: standalone ? 'memory' : topo.topology,
    host,
    port,
    username: merged.username,
    tls,
    db,
    clusterNodes: Object.freeze(standalone ? [] : topo.clusterNodes),
    clusterNatMap: standalone ? undefined : topo.clusterNatMap,
    sentinels: Object.freeze(standalone ? [] : topo.sentinels),
    sentinelMasterName: standalone ? undefined : topo.sentinelMasterName,
    sentinelUsername: standalone ? undefined : topo.sentinelUsername,
    sentinelTls: standalone ? false : sentinelTls,
    slotSafe: topo.slotSafe,
    environment,
    prefix: environment ? `${keyPrefix}:${environment}` : keyPrefix,
    connectTimeoutMs,
    commandTimeoutMs,
    healthIntervalMs,
    instanceId,
    sources: Object.freeze({ ...merged.sources, ...topo.sources }),
    target,
  } as Record<string, unknown>;
  return seal(config, merged.password, standalone ? undefined : topo.sentinelPassword);
}

/** Freezes the config with the passwords held out of enumeration, JSON, toString and inspect. */
function seal(fields: Record<string, unknown>, password: string | undefined, sentinelPassword: string | undefined): RedkitConfig {
  // TLS options may hold keys and passphrases: only their names are printed.
  const printTls = (tls: false | Record<string, unknown>) => (tls === false ? false : Object.keys(tls).length ? `on (${Object.keys(tls).join(', ')})` : 'on');
  const printable = () => ({
    ...fields,
    tls: printTls(fields.tls as false | Record<string, unknown>),
    sentinelTls: printTls(fields.sentinelTls as false | Record<string, unknown>),
    password: password === undefined ? undefined : MASK,
    sentinelPassword: sentinelPassword === undefined ? undefined : MASK,
  });
  Object.defineProperty(fields, 'password', { value: password, enumerable: false });
  Object.defineProperty(fields, 'sentinelPassword', { value: sentinelPassword, enumerable: false });
  Object.defineProperty(fields, 'toJSON', { value: printable, enumerable: false });
  Object.defineProperty(fields, 'toString', { value: () => `RedkitConfig ${JSON.stringify(printable())}`, enumerable: false });
  Object.defineProperty(fields, inspect.custom, { value: () => printable(), enumerable: false });
  return Object.freeze(fields) as unknown as RedkitConfig;
}

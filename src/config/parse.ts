import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { ConfigError } from '../errors.js';
import { MASK } from './mask.js';
import { envLayer, envValue, optionsLayer, type Env, type Layer } from './endpoint.js';
import { ENV_NAMES, OPTION_NAMES, resolveTopology, topologyLayer } from './topology-layer.js';
import type { RedkitConfig, RedkitOptions } from './types.js';

const NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

function parseMs(raw: string | number | undefined, variable: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const text = String(raw).trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || value <= 0) {
    throw new ConfigError(variable, `${variable} must be a whole number of milliseconds > 0 (got "${text}")`);
  }
  return value;
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

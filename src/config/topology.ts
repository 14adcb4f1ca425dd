import { ConfigError } from '../errors.js';
import { MASK } from './mask.js';
import type { HostPort } from './types.js';

/** Default port of a sentinel, as in `redis-sentinel`'s own config. */
export const SENTINEL_PORT = 26379;

const HOST_PATTERN = /^[A-Za-z0-9_.-]+$/;
const MASTER_NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

function badPort(text: string, variable: string, entry: string): never {
  throw new ConfigError(variable, `${variable} has a port that is not a whole number from 1 to 65535 in ${entry} (got "${text}")`);
}

/**
 * Parses one `host[:port]` entry (`[v6]:port` for IPv6). `entry` says where it sits in the list;
 * values are echoed only when `echo` is true (never for URLs, which may carry a password).
 */
function parseHostPort(raw: string, variable: string, defaultPort: number, entry: string, echo: boolean): HostPort {
  const text = raw.trim();
  // A URL pasted into a list may carry a password: such an entry is named, never printed.
  const shown = echo && !/[@/]/.test(text) ? `"${text}"` : entry;
  if (text === '')
    throw new ConfigError(variable, `${variable} has an empty ${entry}; write host:port entries separated by commas, e.g. 10.0.0.1:6379,10.0.0.2:6379`);
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(.*))?$/.exec(text);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else {
    const parts = text.split(':');
    if (parts.length > 2) throw new ConfigError(variable, `${variable}: ${shown} is not host[:port]; put IPv6 addresses in brackets, e.g. [::1]:6379`);
    host = parts[0]!;
    portText = parts[1];
  }
  if (host === '' || (!v6 && !HOST_PATTERN.test(host))) {
    throw new ConfigError(variable, `${variable}: ${shown} is not host[:port]; a host is a name or an IP, without scheme, credentials or path`);
  }
  let port = defaultPort;
  if (portText !== undefined) {
    const n = Number(portText);
    if (!/^\d+$/.test(portText) || n < 1 || n > 65535) badPort(shown === entry ? '…' : portText, variable, shown);
    port = n;
  }
  return { host, port };
}

/** The ioredis / node-redis spelling of a node address: `host:port`, IPv6 without brackets. */
export function nodeKey(node: HostPort): string {
  return `${node.host}:${node.port}`;
}

/**
 * Parses a comma-separated `host[:port]` list (or an array of entries) into addresses, duplicates
 * dropped. An empty list, an empty entry or a malformed one is a ConfigError naming `variable`.
 */
export function parseHostList(raw: string | ReadonlyArray<string | HostPort>, variable: string, defaultPort: number, echo = true): HostPort[] {
  let entries: Array<string | HostPort>;
  if (typeof raw === 'string') entries = raw.split(',');
  else if (Array.isArray(raw)) entries = [...raw];
  else throw new ConfigError(variable, `${variable} must be a "host:port,host:port" string or an array of "host:port" strings or { host, port } objects`);
  if (entries.length === 0 || (entries.length === 1 && typeof entries[0] === 'string' && entries[0].trim() === '')) {
    throw new ConfigError(variable, `${variable} is empty; list at least one host:port`);
  }
  const out: HostPort[] = [];
  const seen = new Set<string>();
  entries.forEach((item, i) => {
    const entry = `entry ${i + 1}`;
    let node: HostPort;
    if (typeof item === 'string') node = parseHostPort(item, variable, defaultPort, entry, echo);
    else if (item && typeof item === 'object' && typeof item.host === 'string') {
      node = parseHostPort(item.host.includes(':') ? `[${item.host}]` : item.host, variable, defaultPort, entry, echo);
      if (item.port !== undefined) {
        if (!Number.isInteger(item.port) || item.port < 1 || item.port > 65535) badPort(String(item.port), variable, entry);
        node = { host: node.host, port: item.port };
      }
    } else {
      throw new ConfigError(variable, `${variable}: ${entry} must be a "host:port" string or a { host, port } object`);
    }
    const key = nodeKey(node);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(Object.freeze(node));
    }
  });
  return out;
}

/** Validates a sentinel master group name (`sentinel monitor <name> …`). */
export function parseMasterName(raw: string, variable: string): string {
  const name = raw.trim();
  if (name === '') throw new ConfigError(variable, `${variable} is empty; set it to the name in "sentinel monitor <name> …" (often "mymaster")`);
  if (!MASTER_NAME_PATTERN.test(name)) throw new ConfigError(variable, `${variable} may hold only letters, digits, ".", "_" and "-" (got "${name}")`);
  return name;
}

/** What a `redis+sentinel://` URL says; credentials are those of the master and replicas. */
export interface SentinelUrl {
  kind: 'sentinel';
  sentinels: HostPort[];
  masterName?: string;
  db?: number;
  username?: string;
  password?: string;
  tls: boolean;
}

/** What a `redis+cluster://` URL says: the seed nodes, credentials and TLS of every node. */
export interface ClusterUrl {
  kind: 'cluster';
  clusterNodes: HostPort[];
  username?: string;
  password?: string;
  tls: boolean;
}

/** A URL that names a topology rather than one server. */
export type TopologyUrl = SentinelUrl | ClusterUrl;

/** True for `redis+cluster://` and `rediss+cluster://` URLs. */
export function isClusterUrl(raw: string): boolean {
  return /^\s*rediss?\+cluster:\/\//i.test(raw);
}

/**
 * Parses `redis+cluster://[user:pass@]h1[:p],h2[:p]` (`rediss+cluster://` for TLS): the form
 * `config.target` prints, so a printed target can be pasted back. Ports default to 6379; no db
 * (a cluster has only db 0).
 */
export function parseClusterUrl(raw: string, variable: string): ClusterUrl {
  const text = raw.trim();
  const shown = maskSentinelUrl(text);
  const m = /^(rediss?)\+cluster:\/\/(?:(.*)@)?([^/?#@]*)\/?$/i.exec(text);
  if (!m || !m[3]) {
    throw new ConfigError(
      variable,
      `${variable} is not a valid cluster URL ("${shown}"); expected redis+cluster://[user:password@]host1[:6379],host2[:6379], with special characters in the password percent-encoded and no path or query string`,
    );
  }
  const [, scheme, userinfo, hosts] = m;
  const out: ClusterUrl = {
    kind: 'cluster',
    clusterNodes: parseHostList(hosts!, `${variable} (cluster nodes)`, 6379, userinfo === undefined),
    tls: scheme!.toLowerCase() === 'rediss',
  };
  Object.assign(out, parseUserinfo(userinfo, variable));
  return out;
}

/** Decodes `user:pass` of a topology URL; messages never repeat them. */
function parseUserinfo(userinfo: string | undefined, variable: string): { username?: string; password?: string } {
  const out: { username?: string; password?: string } = {};
  if (userinfo === undefined) return out;
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new ConfigError(variable, `${variable} has a malformed percent-escape in the ${what}; encode special characters with encodeURIComponent`);
    }
  };
  const colon = userinfo.indexOf(':');
  const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
  const pass = colon < 0 ? '' : userinfo.slice(colon + 1);
  if (user !== '') out.username = decode(user, 'username');
  if (pass !== '') out.password = decode(pass, 'password');
  return out;
}

/** True for `redis+sentinel://` and `rediss+sentinel://` URLs. */
export function isSentinelUrl(raw: string): boolean {
  return /^\s*rediss?\+sentinel:\/\//i.test(raw);
}

/** Masks everything up to the last `@` of a URL's authority: a password may hold an unencoded `@`. */
export function maskSentinelUrl(raw: string): string {
  return raw.replace(/\/\/.*@/, `//${MASK}@`);
}

/**
 * Parses `redis+sentinel://[user:pass@]h1[:p],h2[:p]/master[/db]` (`rediss+sentinel://` for TLS).
 * Ports default to 26379. Messages never repeat the credentials.
 */
export function parseSentinelUrl(raw: string, variable: string): SentinelUrl {
  const text = raw.trim();
  const shown = maskSentinelUrl(text);
  const m = /^(rediss?)\+sentinel:\/\/(?:(.*)@)?([^/?#@]*)(?:\/([^/?#]*))?(?:\/([^/?#]*))?\/?$/i.exec(text);
  if (!m) {
    throw new ConfigError(
      variable,
      `${variable} is not a valid sentinel URL ("${shown}"); expected redis+sentinel://[user:password@]host1[:26379],host2[:26379]/<master name>[/db], with special characters in the password percent-encoded and no query string`,
    );
  }
  const [, scheme, userinfo, hosts, master, db] = m;
  if (!hosts) throw new ConfigError(variable, `${variable} lists no sentinel ("${shown}"); expected redis+sentinel://host1:26379,host2:26379/<master name>`);
  const out: SentinelUrl = {
    kind: 'sentinel',
    sentinels: parseHostList(hosts, `${variable} (sentinels)`, SENTINEL_PORT, userinfo === undefined),
    tls: scheme!.toLowerCase() === 'rediss',
  };
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new ConfigError(variable, `${variable} has a malformed percent-escape in the ${what}; encode special characters with encodeURIComponent`);
    }
  };
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    const pass = colon < 0 ? '' : userinfo.slice(colon + 1);
    if (user !== '') out.username = decode(user, 'username');
    if (pass !== '') out.password = decode(pass, 'password');
  }
  if (master) out.masterName = parseMasterName(decode(master, 'master name'), `${variable} (master name)`);
  if (db !== undefined && db !== '') {
    if (!/^\d+$/.test(db))
      throw new ConfigError(`${variable} (database path)`, `${variable} (database path) must be a database number, a whole number ≥ 0 (got "${db}")`);
    out.db = Number(db);
  }
  return out;
}

/**
 * Parses a NAT map: which address to dial for each address the cluster announces.
 * - `reachable=announced,…` pairs, in Docker's `-p HOST:CONTAINER` order, e.g.
 *   `127.0.0.1:7000=172.18.0.2:6379,127.0.0.1:7001=172.18.0.3:6379`;
 * - or JSON in ioredis's `natMap` shape, keyed by the announced address:
 *   `{"172.18.0.2:6379":{"host":"127.0.0.1","port":7000}}`.
 * Returns the ioredis shape. Ports are required on both sides.
 */
export function parseNatMap(raw: string | Record<string, HostPort>, variable: string): Record<string, HostPort> {
  let pairs: Array<[announced: string, reachable: string | HostPort, entry: string]>;
  if (typeof raw === 'string' && !raw.trim().startsWith('{')) {
    pairs = raw.split(',').map((part, i) => {
      const sides = part.split('=');
      if (sides.length !== 2) {
        const shown = /[@/]/.test(part) ? '' : ` ("${part.trim()}")`;
        throw new ConfigError(
          variable,
          `${variable}: entry ${i + 1}${shown} is not reachable=announced; write e.g. 127.0.0.1:7000=172.18.0.2:6379 (the address to dial, "=", the address CLUSTER SLOTS announces), or JSON`,
        );
      }
      return [sides[1]!, sides[0]!, `entry ${i + 1}`];
    });
  } else {
    let object: unknown = raw;
    if (typeof raw === 'string') {
      try {
        object = JSON.parse(raw);
      } catch {
        throw new ConfigError(
          variable,
          `${variable} starts with "{" but is not valid JSON; expected {"<announced host>:<port>":{"host":"<reachable host>","port":<port>}, …}`,
        );
      }
    }
    if (!object || typeof object !== 'object' || Array.isArray(object)) {
      throw new ConfigError(variable, `${variable} must map "<announced host>:<port>" to { host, port }`);
    }
    pairs = Object.entries(object as Record<string, unknown>).map(([key, value]) => {
      const v = value as Partial<HostPort> | null;
      if (!v || typeof v !== 'object' || typeof v.host !== 'string' || typeof v.port !== 'number') {
        throw new ConfigError(variable, `${variable}: the value for "${key}" must be { "host": "<reachable host>", "port": <port> }`);
      }
      return [key, { host: v.host, port: v.port }, `"${key}"`];
    });
  }
  if (pairs.length === 0) throw new ConfigError(variable, `${variable} is empty; map at least one announced address, or unset it`);
  const out: Record<string, HostPort> = {};
  for (const [announcedRaw, reachableRaw, entry] of pairs) {
    const requirePort = (text: string, side: string) => {
      if (!/:\d+$/.test(text.trim())) throw new ConfigError(variable, `${variable}: ${entry} needs a port on the ${side} side (host:port)`);
    };
    requirePort(announcedRaw, 'announced');
    if (typeof reachableRaw === 'string') requirePort(reachableRaw, 'reachable');
    const [announced] = parseHostList([announcedRaw], variable, 0);
    const [reachable] = parseHostList([reachableRaw], variable, 0);
    const key = nodeKey(announced!);
    if (key in out) throw new ConfigError(variable, `${variable} maps the announced address ${key} twice; keep one entry per node`);
    out[key] = reachable!;
  }
  return Object.freeze(out);
}

/** Parses the slot-safe key layout setting: `true`, `false` or `auto`. */
export function parseSlotSafe(raw: string | boolean, variable: string): boolean | 'auto' {
  if (typeof raw === 'boolean') return raw;
  const text = String(raw).trim().toLowerCase();
  if (text === 'auto') return 'auto';
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  throw new ConfigError(variable, `${variable} must be true, false or auto (got "${String(raw)}")`);
}

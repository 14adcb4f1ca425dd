import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';

/** A duration: milliseconds as a number, or a string such as `'500ms'`, `'10s'`, `'5m'`, `'24h'`, `'1d'`. */
export type Duration = number | string;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a Duration to whole milliseconds; throws InvalidArgumentError naming `argument`. */
export function toMs(value: Duration, argument: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.round(value);
  } else if (typeof value === 'string') {
    const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(value.trim());
    if (match) return Math.round(Number(match[1]) * UNITS[match[2]!]!);
  }
  throw new InvalidArgumentError(argument, `${argument} must be a number of milliseconds ≥ 0 or a string like "500ms", "10s", "5m", "24h", "1d" (got ${JSON.stringify(value) ?? typeof value})`);
}

/**
 * Turns values into the string stored in Redis and back. The default is JSON; pass your own
 * (e.g. superjson, msgpack as base64) to `namespace(name, { serializer })`.
 */
export interface CacheSerializer {
  /** Returns the stored form; throws when `value` cannot be represented (the cache wraps it in CacheSerializationError). */
  serialize(value: unknown): string;
  /** Inverse of `serialize`. */
  deserialize(payload: string): unknown;
}

/**
 * Describes why JSON would not give `value` back as it was, or returns null when it would.
 * JSON silently turns NaN into null, a Date into a string, a Map into `{}` and drops
 * `undefined` array items; a cache that did that would hand back a different value.
 */
export function jsonProblem(value: unknown, path = 'value', depth = 0): string | null {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `${path} is ${value}, which JSON stores as null`;
    case 'undefined':
      return `${path} is undefined, which JSON cannot hold (cache null instead)`;
    case 'bigint':
      return `${path} is a BigInt, which JSON cannot hold (convert it to a string or pass a serializer)`;
    case 'function':
    case 'symbol':
      return `${path} is a ${typeof value}, which JSON cannot hold`;
    default:
      break;
  }
  if (value === null) return null;
  if (depth > 100) return `${path} is nested more than 100 levels deep (or circular), which JSON cannot hold`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = jsonProblem(value[i], `${path}[${i}]`, depth + 1);
      if (problem) return problem;
    }
    return null;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const kind = (value as object).constructor?.name ?? 'object';
    return `${path} is a ${kind}, which JSON would turn into ${value instanceof Date ? 'a string' : 'a plain object'} (convert it first or pass a serializer)`;
  }
  for (const key in value as Record<string, unknown>) {
    const item = (value as Record<string, unknown>)[key];
    // An undefined property is dropped by JSON, and reads back as undefined anyway: not a change.
    if (item === undefined) continue;
    const problem = jsonProblem(item, `${path}.${key}`, depth + 1);
    if (problem) return problem;
  }
  return null;
}

/**
 * True when JSON gives `value` back unchanged. Hand-written twin of `jsonProblem` without path
 * strings: it runs on every write, and building a path per property cost ~40 % of a stringify.
 */
function jsonSafe(value: unknown, depth: number): boolean {
  const type = typeof value;
  if (type === 'string' || type === 'boolean') return true;
  if (type === 'number') return Number.isFinite(value);
  if (type !== 'object') return false;
  if (value === null) return true;
  if (depth > 100) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!jsonSafe(value[i], depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value as Record<string, unknown>) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined && !jsonSafe(item, depth + 1)) return false;
  }
  return true;
}

/** The default serializer: JSON, refusing what JSON would not give back unchanged. */
export const jsonSerializer: CacheSerializer = {
  serialize(value: unknown): string {
    const problem = jsonSafe(value, 0) ? null : jsonProblem(value);
    if (problem) throw new TypeError(problem);
    return JSON.stringify(value);
  },
  deserialize(payload: string): unknown {
    return JSON.parse(payload);
  },
};

/** JSON with object keys sorted at every level, so that equal plain objects give equal text. */
function canonicalJson(value: unknown, depth = 0): string {
  if (depth > 100) throw new InvalidArgumentError('input', 'hashKey input is nested more than 100 levels deep (or circular)');
  if (value === null || typeof value !== 'object') {
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') {
      throw new InvalidArgumentError('input', `hashKey cannot hash a ${typeof value}: pass a string, a Buffer, or a plain object / array of JSON values`);
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v, depth + 1)).join(',')}]`;
  const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k], depth + 1)}`).join(',')}}`;
}

/**
 * SHA-256 hex of `input`: a string hashes its UTF-8 bytes (so it equals `sha256(text)` computed
 * anywhere else), a Buffer/Uint8Array its bytes, and anything else its canonical JSON (keys sorted),
 * so `{a:1,b:2}` and `{b:2,a:1}` give the same key.
 */
export function hashKey(input: unknown): string {
  const hash = createHash('sha256');
  if (typeof input === 'string') hash.update(input, 'utf8');
  else if (input instanceof Uint8Array) hash.update(input);
  else hash.update(canonicalJson(input), 'utf8');
  return hash.digest('hex');
}

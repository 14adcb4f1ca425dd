import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { isWellFormed } from '../keys.js';

export { toMs, type Duration } from '../duration.js';

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

// Every non-JSON value is written as a `#…` token: outside a string literal JSON text never holds
// a `#`, so no token can equal the encoding of a plain value, and plain JSON values keep the
// canonical-JSON text they always had.
const TYPED_TAG = /^\[object (\w+)\]$/;

/**
 * A canonical text for `value`: JSON with object keys sorted at every level for plain values;
 * Date, Map, Set, RegExp, BigInt, NaN, ±Infinity, -0, undefined (in arrays and Map/Set) and typed
 * arrays as distinct `#` tokens. Throws InvalidArgumentError for what it cannot encode faithfully.
 */
function canonical(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      if (!isWellFormed(value)) throw refuse('a string with a lone UTF-16 surrogate (it has no UTF-8 form, so two such strings would share a key)');
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (Number.isFinite(value)) return Object.is(value, -0) ? '#-0' : JSON.stringify(value);
      return `#${String(value)}`;
    case 'bigint':
      return `#BigInt(${value.toString()})`;
    case 'undefined':
      return '#undefined';
    case 'function':
    case 'symbol':
      throw refuse(`a ${typeof value}`);
    default:
      break;
  }
  if (value === null) return 'null';
  if (depth > 100) throw new InvalidArgumentError('input', 'hashKey input is nested more than 100 levels deep (or circular)');
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) throw refuse(`a ${value.constructor?.name ?? 'Array subclass'}`);
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonical(value[i], depth + 1);
    return `${out}]`;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    if (Object.getOwnPropertySymbols(value as object).length > 0) throw refuse('an object with symbol keys');
    // A property set to undefined is the same as a missing one (JSON drops it too).
    const keys = Object.keys(value as object)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${canonical(k, depth + 1)}:${canonical((value as Record<string, unknown>)[k], depth + 1)}`).join(',')}}`;
  }
  // Built-in types are recognised by their exact prototype, never by duck typing: a subclass or
  // a look-alike may carry state the token would miss.
  if (proto === Date.prototype) return `#Date(${(value as Date).getTime()})`;
  if (proto === RegExp.prototype) return `#RegExp(${JSON.stringify(String(value))})`;
  if (proto === Map.prototype) {
    const entries = [...(value as Map<unknown, unknown>)].map(([k, v]) => `${canonical(k, depth + 1)}=>${canonical(v, depth + 1)}`).sort();
    return `#Map{${entries.join(',')}}`;
  }
  if (proto === Set.prototype)
    return `#Set{${[...(value as Set<unknown>)]
      .map((v) => canonical(v, depth + 1))
      .sort()
      .join(',')}}`;
  if (value instanceof ArrayBuffer && proto === ArrayBuffer.prototype) return `#ArrayBuffer(${Buffer.from(value).toString('hex')})`;
  if (ArrayBuffer.isView(value)) {
    const tag = Buffer.isBuffer(value) ? 'Buffer' : TYPED_TAG.exec(Object.prototype.toString.call(value))?.[1];
    if (tag && proto === (tag === 'Buffer' ? Buffer : (globalThis as Record<string, { prototype?: unknown } | undefined>)[tag])?.prototype) {
      return `#${tag}(${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')})`;
    }
  }
  throw refuse(`a ${(value as object).constructor?.name ?? 'class'} instance (its fields may not be enumerable)`);
}

function refuse(what: string): InvalidArgumentError {
  return new InvalidArgumentError(
    'input',
    `hashKey cannot hash ${what}: pass strings, numbers, booleans, null, plain objects, arrays, Date, Map, Set, RegExp, BigInt or typed arrays, or give wrap() a key function`,
  );
}

/** Byte that never starts valid UTF-8: the encoding of a non-string value never equals a string's bytes. */
const STRUCTURED = Buffer.from([0xff]);

/**
 * SHA-256 hex of `input`. A string hashes its UTF-8 bytes (so it equals `sha256(text)` computed
 * anywhere else; a lone surrogate is refused) and a Buffer/Uint8Array its bytes. Anything else
 * hashes a canonical text (object keys sorted, so `{a:1,b:2}` and `{b:2,a:1}` give the same key;
 * Date, Map, Set, NaN, -0, BigInt, typed arrays… each distinct) behind a byte that no UTF-8 text
 * starts with. Class instances are refused with InvalidArgumentError.
 */
export function hashKey(input: unknown): string {
  const hash = createHash('sha256');
  if (typeof input === 'string') {
    if (!isWellFormed(input)) throw refuse('a string with a lone UTF-16 surrogate (it has no UTF-8 form, so two such strings would share a key)');
    hash.update(input, 'utf8');
  } else if (input instanceof Uint8Array && (Buffer.isBuffer(input) || Object.getPrototypeOf(input) === Uint8Array.prototype)) {
    hash.update(input);
  } else {
    hash.update(STRUCTURED);
    hash.update(canonical(input, 0), 'utf8');
  }
  return hash.digest('hex');
}

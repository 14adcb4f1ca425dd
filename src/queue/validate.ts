import { InvalidArgumentError, JobDataError } from '../errors.js';

/** Throws InvalidArgumentError naming the first key of `value` that is not in `allowed`. */
export function assertKnownKeys(value: unknown, allowed: readonly string[], argument: string): void {
  if (value === undefined) return;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(argument, `${argument} must be an object (got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value})`);
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new InvalidArgumentError(`${argument}.${key}`, `unknown option ${argument}.${key}: expected one of ${allowed.join(', ')}`);
    }
  }
}

/** Throws InvalidArgumentError unless `value` is undefined or an integer within [min, max]. */
export function assertInt(value: unknown, argument: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(argument, `${argument} must be a whole number from ${min} to ${max} (got ${JSON.stringify(value) ?? String(value)})`);
  }
}

/**
 * Job ids: BullMQ refuses integer-looking ids and ids with ':'; Redis keys and URLs want no
 * spaces or control characters. One rule for both engines keeps ids portable between them.
 */
export function assertJobId(value: unknown, argument = 'jobId'): asserts value is string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(value) || /^\d+$/.test(value)) {
    throw new InvalidArgumentError(argument, `${argument} must be 1-128 characters of letters, digits, ".", "_" or "-", starting with a letter or digit and not all digits (got ${JSON.stringify(value) ?? String(value)})`);
  }
}

/**
 * Serialises `data` to JSON after checking it survives the round trip unchanged: plain objects,
 * arrays, strings, finite numbers, booleans and null only. JSON.stringify alone would silently
 * turn a Date into a string, a Map into `{}` and NaN into null — a job would then run with data
 * other than what was queued. Returns the JSON text; throws JobDataError otherwise.
 */
export function serialiseJobData(data: unknown, maxBytes: number): string {
  checkPlain(data, null, 0);
  const json = JSON.stringify(data) ?? 'null';
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes) {
    throw new JobDataError('TOO_LARGE', 'data', `job data is ${bytes} bytes, over maxPayloadBytes=${maxBytes}: store large payloads elsewhere (e.g. object storage) and queue a reference, or raise maxPayloadBytes`);
  }
  return json;
}

/**
 * Where checkPlain is: the objects and arrays it is inside, each with the key leading down.
 * The path text (`data.items[2]`) is built only for an error, and the chain doubles as the
 * set of ancestors a circular reference would point back to (every add checks its data: no
 * string or Set per value on the hot path).
 */
interface Inside {
  readonly parent: Inside | null;
  readonly value: object;
  key: string | number;
}

function pathOf(at: Inside | null): string {
  const keys: Array<string | number> = [];
  for (let link = at; link; link = link.parent) keys.push(link.key);
  let path = 'data';
  for (let i = keys.length - 1; i >= 0; i--) path += typeof keys[i] === 'number' ? `[${keys[i]}]` : `.${keys[i]}`;
  return path;
}

function checkPlain(value: unknown, at: Inside | null, depth: number): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw notSerialisable(pathOf(at), `${value} is not representable in JSON`);
    return;
  }
  if (value === undefined) {
    if (depth === 0) return;
    throw notSerialisable(pathOf(at), 'undefined in an array becomes null in JSON; use null');
  }
  if (typeof value !== 'object') throw notSerialisable(pathOf(at), `a ${typeof value} cannot be serialised`);
  if (depth > 64) throw notSerialisable(pathOf(at), 'nesting deeper than 64 levels');
  for (let link = at; link; link = link.parent) {
    if (link.value === value) throw notSerialisable(pathOf(at), 'circular reference');
  }
  const inside: Inside = { parent: at, value, key: 0 };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      inside.key = i;
      checkPlain(value[i], inside, depth + 1);
    }
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const kind = (value as object).constructor?.name ?? 'object';
    throw notSerialisable(pathOf(at), `a ${kind} is not plain JSON; convert it first (e.g. a Date to toISOString())`);
  }
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    const item = (value as Record<string, unknown>)[key];
    // An undefined property reads back as undefined once JSON drops it: harmless, so allowed.
    if (item === undefined) continue;
    inside.key = key;
    checkPlain(item, inside, depth + 1);
  }
}

function notSerialisable(path: string, why: string): JobDataError {
  return new JobDataError('NOT_SERIALISABLE', path, `job ${path} cannot be queued: ${why}`);
}

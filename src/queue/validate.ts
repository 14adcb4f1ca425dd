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
  checkPlain(data, 'data', new Set(), 0);
  const json = JSON.stringify(data) ?? 'null';
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes) {
    throw new JobDataError('TOO_LARGE', 'data', `job data is ${bytes} bytes, over maxPayloadBytes=${maxBytes}: store large payloads elsewhere (e.g. object storage) and queue a reference, or raise maxPayloadBytes`);
  }
  return json;
}

function checkPlain(value: unknown, path: string, seen: Set<object>, depth: number): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw notSerialisable(path, `${value} is not representable in JSON`);
    return;
  }
  if (value === undefined) {
    if (depth === 0) return;
    throw notSerialisable(path, 'undefined in an array becomes null in JSON; use null');
  }
  if (typeof value !== 'object') throw notSerialisable(path, `a ${typeof value} cannot be serialised`);
  if (depth > 64) throw notSerialisable(path, 'nesting deeper than 64 levels');
  if (seen.has(value)) throw notSerialisable(path, 'circular reference');
  if (Array.isArray(value)) {
    seen.add(value);
    value.forEach((item, i) => checkPlain(item, `${path}[${i}]`, seen, depth + 1));
    seen.delete(value);
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const kind = (value as object).constructor?.name ?? 'object';
    throw notSerialisable(path, `a ${kind} is not plain JSON; convert it first (e.g. a Date to toISOString())`);
  }
  seen.add(value);
  for (const [key, item] of Object.entries(value)) {
    // An undefined property reads back as undefined once JSON drops it: harmless, so allowed.
    if (item !== undefined) checkPlain(item, `${path}.${key}`, seen, depth + 1);
  }
  seen.delete(value);
}

function notSerialisable(path: string, why: string): JobDataError {
  return new JobDataError('NOT_SERIALISABLE', path, `job ${path} cannot be queued: ${why}`);
}

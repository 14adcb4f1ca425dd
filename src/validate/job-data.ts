import { InvalidArgumentError, JobDataError } from '../errors.js';

// Job ids and plain-JSON job data, shared by jobs/ and queue/ (neither imports the other).

/**
 * Job ids: BullMQ refuses integer-looking ids and ids with ':'; Redis keys and URLs want no
 * spaces or control characters. One rule for both engines keeps ids portable between them.
 */
export function assertJobId(value: unknown, argument = 'jobId'): asserts value is string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(value) || /^\d+$/.test(value)) {
    throw new InvalidArgumentError(
      argument,
      `${argument} must be 1-128 characters of letters, digits, ".", "_" or "-", starting with a letter or digit and not all digits (got ${JSON.stringify(value) ?? String(value)})`,
    );
  }
}

/**
 * Serialises `data` to JSON after checking it survives the round trip unchanged: plain objects,
 * arrays, strings, finite numbers, booleans and null only. JSON.stringify alone would silently
 * turn a Date into a string, a Map into `{}` and NaN into null — a job would then run with data
 * other than what was queued. Returns the JSON text; throws JobDataError otherwise.
 */
export function serialiseJobData(data: unknown, maxBytes: number): string {
  checkJobData(data, maxBytes);
  return jobDataJson(data);
}

/** The JSON text of data that passed checkJobData. */
export function jobDataJson(data: unknown): string {
  return JSON.stringify(data) ?? 'null';
}

/**
 * Checks `data` as serialiseJobData does, without keeping its JSON text: the size is measured
 * exactly only when a bound computed during the check could exceed `maxBytes`. (BullMQ
 * serialises the data itself; a second JSON.stringify per add was a fifth of redkit's own
 * cost per add, measured with --cpu-prof on bench/queue.)
 */
export function checkJobData(data: unknown, maxBytes: number): void {
  if (checkPlain(data, null, 0) <= maxBytes) return;
  const bytes = Buffer.byteLength(jobDataJson(data));
  if (bytes > maxBytes) {
    throw new JobDataError(
      'TOO_LARGE',
      'data',
      `job data is ${bytes} bytes, over maxPayloadBytes=${maxBytes}: store large payloads elsewhere (e.g. object storage) and queue a reference, or raise maxPayloadBytes`,
    );
  }
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

/** A string's JSON in UTF-8 is at most 6 bytes per UTF-16 unit (`\uXXXX`), plus its quotes. */
function stringBound(text: string): number {
  return 2 + 6 * text.length;
}

/** A finite number's JSON is at most 24 characters (e.g. -1.2345678901234567e-308). */
const NUMBER_BOUND = 24;

/**
 * Throws unless `value` is plain JSON; returns an upper bound of its JSON's size in UTF-8 bytes.
 */
function checkPlain(value: unknown, at: Inside | null, depth: number): number {
  if (value === null) return 4;
  if (typeof value === 'string') return stringBound(value);
  if (typeof value === 'boolean') return 5;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw notSerialisable(pathOf(at), `${value} is not representable in JSON`);
    return NUMBER_BOUND;
  }
  if (value === undefined) {
    if (depth === 0) return 4;
    throw notSerialisable(pathOf(at), 'undefined in an array becomes null in JSON; use null');
  }
  if (typeof value !== 'object') throw notSerialisable(pathOf(at), `a ${typeof value} cannot be serialised`);
  if (depth > 64) throw notSerialisable(pathOf(at), 'nesting deeper than 64 levels');
  for (let link = at; link; link = link.parent) {
    if (link.value === value) throw notSerialisable(pathOf(at), 'circular reference');
  }
  const inside: Inside = { parent: at, value, key: 0 };
  // Brackets, and a comma before every item (one too many: a bound).
  let bound = 2;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      inside.key = i;
      bound += 1 + checkPlain(value[i], inside, depth + 1);
    }
    return bound;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const kind = (value as object).constructor?.name ?? 'object';
    throw notSerialisable(pathOf(at), `a ${kind} is not plain JSON; convert it first (e.g. a Date to toISOString())`);
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const item = (value as Record<string, unknown>)[key];
    // An undefined property reads back as undefined once JSON drops it: harmless, so allowed.
    if (item === undefined) continue;
    inside.key = key;
    bound += 2 + stringBound(key) + checkPlain(item, inside, depth + 1);
  }
  return bound;
}

function notSerialisable(path: string, why: string): JobDataError {
  return new JobDataError('NOT_SERIALISABLE', path, `job ${path} cannot be queued: ${why}`);
}

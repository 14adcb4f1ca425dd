import { createRequire } from 'node:module';
import { InvalidArgumentError } from './errors.js';

/**
 * A duration: milliseconds as a number, or a string in the grammar of the `ms` package
 * (`'500ms'`, `'10s'`, `'5m'`, `'24h'`, `'1 hour'`, `'2 days'`, `'1w'`).
 */
export type Duration = number | string;

/** Bounds of `toMs`; both inclusive, in ms. */
export interface DurationBounds {
  /** Smallest accepted value; default 0. */
  min?: number;
  /** Largest accepted value; default `Number.MAX_SAFE_INTEGER`. */
  max?: number;
}

// Loaded through require with its one signature spelled out: @types/ms is not installed yet, and
// this keeps compiling unchanged once it is.
const ms = createRequire(import.meta.url)('ms') as (value: string) => number | undefined;

const EXAMPLES = '"500ms", "10s", "5m", "24h", "1 hour", "1w"';

/**
 * Parses a Duration to whole milliseconds (numbers are milliseconds, rounded). Throws
 * InvalidArgumentError naming `option` for anything else, a negative value or one out of `bounds`.
 */
export function toMs(value: unknown, option: string, bounds: DurationBounds = {}): number {
  let parsed: number | undefined;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) parsed = Math.round(value);
  } else if (typeof value === 'string' && value.trim() !== '') {
    // ms() returns undefined for what it cannot read, and throws only for '' or a non-string.
    const n = ms(value.trim());
    if (typeof n === 'number' && Number.isFinite(n)) parsed = Math.round(n);
  }
  const min = bounds.min ?? 0;
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  if (parsed === undefined) {
    throw new InvalidArgumentError(option, `${option} must be a number of milliseconds or a duration string like ${EXAMPLES} (got ${describe(value)})`);
  }
  if (parsed < min || parsed > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min} ms` : `from ${min} to ${max} ms`;
    throw new InvalidArgumentError(option, `${option} must be ${range} (got ${describe(value)}${typeof value === 'string' ? ` = ${parsed} ms` : ''})`);
  }
  return parsed;
}

/** `toMs` for an optional option: `fallback` when `value` is undefined. */
export function optionalMs(value: unknown, option: string, fallback: Duration, bounds?: DurationBounds): number {
  return toMs(value === undefined ? fallback : value, option, bounds);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  return value === null ? 'null' : typeof value;
}

import { InvalidArgumentError } from '../errors.js';

// Number checks shared by the capabilities (jobs, queue) that take whole-number options.

/** Throws InvalidArgumentError unless `value` is undefined or an integer within [min, max]. */
export function assertInt(value: unknown, argument: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(argument, `${argument} must be a whole number from ${min} to ${max} (got ${JSON.stringify(value) ?? String(value)})`);
  }
}

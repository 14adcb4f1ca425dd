import { InvalidArgumentError } from '../errors.js';

/** Throws InvalidArgumentError naming the first key of `value` that is not in `allowed`. */
export function assertKnownKeys(value: unknown, allowed: readonly string[], argument: string): void {
  if (value === undefined) return;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(
      argument,
      `${argument} must be an object (got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value})`,
    );
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new InvalidArgumentError(`${argument}.${key}`, `unknown option ${argument}.${key}: expected one of ${allowed.join(', ')}`);
    }
  }
}

/**
 * Ids looked up (getJob, retryJob, removeScheduler) only need to be sane: BullMQ generates
 * all-digit ids ("42") and scheduler runs are named `repeat:<id>:<time>`, which assertJobId
 * refuses for ids a caller picks. 1-512 characters, no whitespace or control characters.
 */
export function assertLookupId(value: unknown, argument = 'id'): asserts value is string {
  if (typeof value !== 'string' || !/^[^\s\x00-\x1f\x7f]{1,512}$/.test(value)) {
    throw new InvalidArgumentError(
      argument,
      `${argument} must be 1-512 characters without spaces or control characters (got ${JSON.stringify(value) ?? String(value)})`,
    );
  }
}

// One copy of the job-id, job-data and whole-number checks, shared with jobs/ (src/validate/).
export { assertJobId, checkJobData, jobDataJson, serialiseJobData } from '../validate/job-data.js';
export { assertInt } from '../validate/numbers.js';

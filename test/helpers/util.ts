import { randomBytes } from 'node:crypto';

/** A random key prefix so test files never see each other's keys. */
export function randomPrefix(label = 't'): string {
  return `${label}${randomBytes(4).toString('hex')}`;
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it returns a truthy value or `timeoutMs` passes; returns the value and
 * how long it took. Throws with `what` on timeout.
 */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs: number, what = 'condition', everyMs = 10): Promise<{ value: T; elapsedMs: number }> {
  const start = performance.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return { value, elapsedMs: performance.now() - start };
    } catch (err) {
      last = err;
    }
    if (performance.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String((last as Error).message ?? last)}` : ''}`);
    }
    await sleep(everyMs);
  }
}

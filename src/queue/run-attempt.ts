import { JobTimeoutError } from '../errors.js';
import type { JobContext, JobHandler } from './types.js';

/**
 * Runs one attempt of a job with the optional time limit; both engines use it, so a handler
 * sees the same context and the same timeout behaviour with or without Redis. On timeout the
 * signal is aborted and the attempt rejects with JobTimeoutError (the handler may still be
 * running: JavaScript cannot stop it, the signal asks it to).
 */
export async function runAttempt<T, R>(
  handler: JobHandler<T, R>,
  base: Omit<JobContext<T>, 'signal'>,
  timeoutMs: number | undefined,
  outer?: AbortSignal,
): Promise<R> {
  const controller = new AbortController();
  const onOuter = () => controller.abort(outer?.reason);
  outer?.addEventListener('abort', onOuter, { once: true });
  const context: JobContext<T> = { ...base, signal: controller.signal };
  let timer: NodeJS.Timeout | undefined;
  try {
    const run = Promise.resolve().then(() => handler(context));
    if (!timeoutMs) return await run;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new JobTimeoutError(`job ${base.queue}/${base.id}`, timeoutMs);
        controller.abort(err);
        reject(err);
      }, timeoutMs);
    });
    // The handler's own late rejection must not surface as unhandled once the timeout won.
    run.catch(() => undefined);
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
  }
}

/** Delay before retry number `retry` (1-based) for a backoff setting. */
export function backoffDelayMs(backoff: { type: 'fixed' | 'exponential'; delayMs: number } | undefined, retry: number): number {
  if (!backoff) return 0;
  return backoff.type === 'fixed' ? backoff.delayMs : backoff.delayMs * 2 ** (retry - 1);
}

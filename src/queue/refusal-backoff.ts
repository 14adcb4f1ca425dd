import type { Worker as BullWorker } from 'bullmq';
import type { RedkitContext } from '../context.js';
import { backoffDelay } from '../connection/backoff.js';
import { mapReplyError } from '../connection/reply-errors.js';

/** Longest pause of a worker whose commands Redis refuses (ms); the first is ~1 s. */
export const REFUSAL_BACKOFF_MAX_MS = 30_000;

/**
 * The 'error' listener of a BullMQ worker. BullMQ retries a refused command (NOPERM, OOM,
 * READONLY…) at once and forever: measured 3,500–4,600 refused fetches/s from one worker, and
 * a 4 GB heap after ~9 min in issue 13. A refusal here is logged once per episode as the typed RedkitError
 * (naming the command and the fix), and the worker pauses with a growing delay (≈1 s → 30 s)
 * before it tries again; a fetched job or a drained queue ends the episode. Connection errors
 * stay at debug level: BullMQ already waits those out with its own retry delay.
 */
export function backOffOnRefusal(worker: BullWorker, ctx: RedkitContext, queue: string, stopping: () => boolean): (err: Error) => void {
  let attempt = 0;
  let pausedUntil = 0;
  const reset = () => {
    attempt = 0;
  };
  worker.on('active', reset);
  worker.on('drained', reset);
  return (err: Error) => {
    const refusal = mapReplyError(err, { username: ctx.config.username, prefix: ctx.config.prefix, logger: ctx.logger });
    if (!refusal) {
      ctx.logger.debug({ queue, err: err.message }, '[redkit] BullMQ worker error');
      return;
    }
    if (stopping() || Date.now() < pausedUntil) return;
    attempt += 1;
    const delayMs = backoffDelay(attempt, { baseMs: 1000, maxMs: REFUSAL_BACKOFF_MAX_MS });
    pausedUntil = Date.now() + delayMs;
    if (attempt === 1 || attempt % 10 === 0) {
      ctx.logger.error({ queue, code: refusal.code, attempt, retryInMs: delayMs }, `[redkit] worker "${queue}" paused: ${refusal.message}`);
    }
    void worker.pause(true).catch(() => undefined);
    const timer = setTimeout(() => {
      if (!stopping()) void worker.resume().catch(() => undefined);
    }, delayMs);
    timer.unref();
  };
}

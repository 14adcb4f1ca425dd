import type { Logger } from './config/types.js';

/** Options of `rateLimitedLog`. */
export interface RateLimitedLogOptions {
  /** Lines logged per `intervalMs` per topic; default 1. */
  burst?: number;
  /** Window in ms; default 60 000. */
  intervalMs?: number;
  /** Topics remembered at most (the oldest is forgotten first); default 1000. */
  maxTopics?: number;
  /** Clock in ms; default `Date.now` (tests inject one). */
  now?: () => number;
}

/** A logger method that logs at most `burst` lines per topic and window; returns whether it logged. */
export type RateLimitedLogFn = (topic: string, obj: object, msg: string) => boolean;

/**
 * Wraps `logger[level]` so that a warning repeated on every call (a late lock release, a
 * refused Redis command) logs `burst` lines per topic and window, then one line saying how many
 * were suppressed when the next window opens. The state is bounded by `maxTopics`.
 */
export function rateLimitedLog(logger: Logger, level: 'warn' | 'error' | 'info' = 'warn', options: RateLimitedLogOptions = {}): RateLimitedLogFn {
  const burst = options.burst ?? 1;
  const intervalMs = options.intervalMs ?? 60_000;
  const maxTopics = options.maxTopics ?? 1000;
  const now = options.now ?? Date.now;
  const topics = new Map<string, { since: number; logged: number; suppressed: number }>();
  return (topic, obj, msg) => {
    const t = now();
    let state = topics.get(topic);
    if (state && t - state.since >= intervalMs) {
      if (state.suppressed > 0) obj = { ...obj, suppressed: state.suppressed };
      topics.delete(topic);
      state = undefined;
    }
    if (!state) {
      if (topics.size >= maxTopics) topics.delete(topics.keys().next().value!);
      state = { since: t, logged: 0, suppressed: 0 };
      topics.set(topic, state);
    }
    if (state.logged >= burst) {
      state.suppressed++;
      return false;
    }
    state.logged++;
    logger[level](obj, state.logged === burst ? `${msg} (further repeats suppressed for ${Math.round(intervalMs / 1000)} s)` : msg);
    return true;
  };
}

/** Reconnect delays: capped exponential with jitter. */
export interface BackoffOptions {
  /** First delay. Default 50 ms. */
  baseMs?: number;
  /** Largest delay; keeps recovery fast after Redis returns. Default 1000 ms. */
  maxMs?: number;
}

/**
 * Delay before reconnect attempt `attempt` (1-based): `min(max, base·2^(attempt-1))`, then
 * "equal jitter" (half fixed, half random) so a fleet of instances does not reconnect in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random = Math.random): number {
  const base = options.baseMs ?? 50;
  const max = options.maxMs ?? 1000;
  const ceiling = Math.min(max, base * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

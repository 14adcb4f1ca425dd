/** What redkit tells BullMQ about Redis in place of its INFO-based version check. */
const ASSUMED = { version: '7.0.0', databaseType: 'redis' };

/**
 * redkit passes `skipVersionCheck` (BullMQ's check runs INFO, refused to a least-privilege ACL
 * user). BullMQ then assumes Redis 5.0.0, and on a Redis it believes older than 6 it rounds
 * every blocking wait up to whole seconds: delayed jobs, retries with backoff and Job
 * Scheduler runs started up to 1 s late (measured: `every: 400` ran once per ~1 s). redkit
 * requires Redis ≥ 7 (`redkit doctor` checks), so the connections of a BullMQ object are told
 * 7.0.0 instead: sub-second blocking, and still the 2 ms minimum block (1 ms needs 7.0.8).
 * Must run synchronously after the BullMQ constructor, before its connections initialise.
 * bullmq 6.7 internals (backend.connection / blockingConnection), guarded: a BullMQ without
 * them keeps its own behaviour.
 */
export function assumeRedis7(bull: object): void {
  const backend = (bull as { backend?: Record<string, unknown> }).backend;
  for (const conn of [backend?.connection, backend?.blockingConnection]) {
    const c = conn as { getRedisVersionAndType?: unknown } | undefined;
    if (c && typeof c.getRedisVersionAndType === 'function') c.getRedisVersionAndType = async () => ASSUMED;
  }
}

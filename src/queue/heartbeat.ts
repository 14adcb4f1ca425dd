import { randomUUID } from 'node:crypto';
import type { RedkitContext } from '../context.js';
import { defineScripts } from '../connection/scripts.js';
import { bullPrefix } from './redis-queue.js';

/** How often a worker reports itself alive (ms): 6 commands a minute per idle worker. */
export const HEARTBEAT_MS = 10_000;
/** A worker not seen for this long is not counted (two and a half missed beats). */
export const HEARTBEAT_STALE_MS = 25_000;

const scripts = defineScripts(import.meta.url, 'queue', {
  heartbeat: { file: 'worker-heartbeat-1.lua', keys: ['workersKey'] },
});

/**
 * The live-worker set of a queue: a ZSET of worker ids scored by last-seen time. BullMQ's own
 * getWorkersCount() runs CLIENT LIST (@dangerous, refused under the least-privilege ACL line),
 * so redkit workers beat here instead. Every beat prunes stale ids, and the key expires when
 * no worker beats any more: bounded without a cleaner.
 */
export function workersKey(ctx: RedkitContext, queue: string): string {
  return `${bullPrefix(ctx)}:${queue}:redkit:workers`;
}

/** Live workers of `queue` (fresh heartbeats), across every process. */
export async function liveWorkers(ctx: RedkitContext, queue: string): Promise<number> {
  const key = workersKey(ctx, queue);
  return ctx.connection.run((c) => c.zcount(key, Date.now() - HEARTBEAT_STALE_MS, '+inf'));
}

/** Beats for one worker until `stop()`; a beat that fails (Redis down) is just skipped. */
export function startHeartbeat(ctx: RedkitContext, queue: string): { stop(): Promise<void> } {
  const key = workersKey(ctx, queue);
  const id = `${ctx.instanceId}:${randomUUID().slice(0, 8)}`;
  const beat = () => {
    const now = Date.now();
    ctx.connection.run((c) => scripts.heartbeat(c, [key, id, now, HEARTBEAT_STALE_MS, 2 * HEARTBEAT_STALE_MS])).catch(() => undefined);
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await ctx.connection.run((c) => c.zrem(key, id)).catch(() => undefined);
    },
  };
}

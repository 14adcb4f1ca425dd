import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

/** The Lua scripts of the realtime capability, by versioned command name. */
const SCRIPTS = {
  redkitPresenceJoinV1: 'presence-join-3.lua',
  redkitPresenceLeaveV1: 'presence-leave-3.lua',
  redkitPresenceHeartbeatV1: 'presence-heartbeat-1.lua',
  redkitPresenceExpiredV1: 'presence-expired-1.lua',
  redkitReactionsAddV1: 'reactions-add-1.lua',
} as const;

/** Versioned command names; bump the suffix whenever a script changes meaning. */
export type RealtimeCommand = keyof typeof SCRIPTS;

const cache = new Map<string, { lua: string; numberOfKeys: number }>();

/**
 * tsc does not copy .lua files, so a compiled module (dist/src/realtime) reads them from the
 * source folder (src/realtime) beside it in the package.
 */
function load(file: string): { lua: string; numberOfKeys: number } {
  let entry = cache.get(file);
  if (!entry) {
    const here = new URL(`./${file}`, import.meta.url);
    const source = new URL(`../../../src/realtime/${file}`, import.meta.url);
    const path = existsSync(fileURLToPath(here)) ? here : source;
    const numberOfKeys = Number(/-(\d+)\.lua$/.exec(file)![1]);
    entry = { lua: readFileSync(path, 'utf8'), numberOfKeys };
    cache.set(file, entry);
  }
  return entry;
}

type Scripted = Redis & Record<RealtimeCommand, (...args: Array<string | number>) => Promise<unknown>>;

/**
 * The client with every realtime script defined on it (once per client; ioredis does EVALSHA
 * with EVAL fallback). When it had to define one, it yields a turn of the event loop first:
 * an auto-pipeline opened earlier in the same turn does not know commands defined after it was
 * created, and calling one through it breaks the whole batch (ioredis issue #1931).
 */
export async function scripted(client: Redis): Promise<Scripted> {
  const target = client as unknown as Record<string, unknown>;
  let defined = false;
  for (const [name, file] of Object.entries(SCRIPTS)) {
    if (typeof target[name] !== 'function') {
      client.defineCommand(name, load(file));
      defined = true;
    }
  }
  if (defined) await new Promise<void>((resolve) => setImmediate(resolve));
  return client as Scripted;
}

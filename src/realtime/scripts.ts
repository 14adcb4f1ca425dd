import type { Redis } from 'ioredis';
import { defineScripts, readLua, registerScripts } from '../connection/scripts.js';

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

registerScripts(Object.fromEntries(Object.entries(SCRIPTS).map(([name, file]) => [
  name,
  { numberOfKeys: Number(/-(\d+)\.lua$/.exec(file)![1]), lua: readLua(import.meta.url, `./${file}`) },
])));

type Scripted = Redis & Record<RealtimeCommand, (...args: Array<string | number>) => Promise<unknown>>;

/**
 * The client, typed with the realtime scripts. They are registered with the connection, so
 * every client it creates has them; a client made before this module loaded catches up here,
 * then yields a turn (ioredis #1931: see registerScripts).
 */
export async function scripted(client: Redis): Promise<Scripted> {
  if (defineScripts(client)) await new Promise<void>((resolve) => setImmediate(resolve));
  return client as Scripted;
}

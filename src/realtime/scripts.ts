import type { Redis } from 'ioredis';
import { readLua, registerScripts, scriptMethods } from '../connection/scripts.js';

/** The Lua scripts of the realtime capability, by versioned command name. */
const SCRIPTS = {
  redkitPresenceJoinV1: 'presence-join-3.lua',
  redkitPresenceLeaveV1: 'presence-leave-3.lua',
  redkitPresenceHeartbeatV1: 'presence-heartbeat-1.lua',
  redkitPresenceExpiredV1: 'presence-expired-1.lua',
  redkitReactionsAddV2: 'reactions-add-2.lua',
  redkitReactionsAssertV1: 'reactions-assert-2.lua',
} as const;

/** Versioned command names; bump the suffix whenever a script changes meaning. */
export type RealtimeCommand = keyof typeof SCRIPTS;

registerScripts(Object.fromEntries(Object.entries(SCRIPTS).map(([name, file]) => [
  name,
  { numberOfKeys: Number(/-(\d+)\.lua$/.exec(file)![1]), lua: readLua(import.meta.url, `./${file}`) },
])));

type Scripted = Record<RealtimeCommand, (...args: Array<string | number>) => Promise<unknown>>;

const NAMES = Object.keys(SCRIPTS) as RealtimeCommand[];

/** The realtime scripts as methods running on `client` (keys first, then arguments). */
export async function scripted(client: Redis): Promise<Scripted> {
  return scriptMethods(client, NAMES);
}

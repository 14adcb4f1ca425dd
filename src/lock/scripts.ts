import type { RedisClient } from '../connection/cluster.js';
import { defineScripts } from '../connection/scripts.js';

/** A lock's three keys, in the order every lock script takes them: holders, waiters, meta. */
export type LockKeys = readonly [holdersKey: string, waitersKey: string, metaKey: string];

const KEYS = ['holdersKey', 'waitersKey', 'metaKey'] as const;

/**
 * The lock scripts: the three keys, then the arguments the scripts read as locals. lib.lua holds
 * the helpers every script shares: their prelude, defined once per EVAL.
 */
export const lockScripts = defineScripts(import.meta.url, 'lock', {
  acquire: {
    file: 'acquire-3.lua',
    keys: KEYS,
    parameters: ['token', 'ttlArg', 'limitArg', 'waitArg', 'guardArg', 'runId', 'bornArg', 'publishArg'],
    prelude: 'lib.lua',
    batch: true,
  },
  // publishArg: the command that wakes waiters, PUBLISH or SPUBLISH (see wakeCommand in redis-lock.ts).
  release: { file: 'release-3.lua', keys: KEYS, parameters: ['token', 'limitArg', 'publishArg'], prelude: 'lib.lua', batch: true },
  extend: { file: 'extend-3.lua', keys: KEYS, parameters: ['token', 'ttlArg', 'limitArg'], prelude: 'lib.lua', batch: true },
  cancel: { file: 'cancel-3.lua', keys: KEYS, parameters: ['token', 'limitArg', 'publishArg'], prelude: 'lib.lua', batch: true },
  inspect: { file: 'inspect-3.lua', keys: KEYS, parameters: ['limitArg'], prelude: 'lib.lua', batch: true },
  // Reads or creates the data marker of a Redis whose INFO is refused.
  marker: { file: 'marker-1.lua', keys: ['markerKey'] },
});

/** The marker at `key` ("<id>:<created ms>"), created with `newId` when missing. */
export function readMarker(client: RedisClient, key: string, newId: string): Promise<string> {
  return lockScripts.marker<string>(client, [key, newId]);
}

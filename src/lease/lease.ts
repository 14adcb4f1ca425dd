import type { RedisClient } from '../connection/cluster.js';
import { defineScripts } from '../connection/scripts.js';

/*
 * A lease: one key holding a holder's token, with a TTL the holder renews; taken with SET NX PX,
 * renewed and released only by the token that holds it. The cache's stampede lock and the
 * per-job locks are both this; the lock capability (queues, fencing, restart guard) is not.
 */
const scripts = defineScripts(import.meta.url, 'lease', {
  extend: { file: 'extend-1.lua', keys: ['leaseKey'] },
  release: { file: 'release-1.lua', keys: ['leaseKey'] },
});

/** Takes the lease at `key` for `leaseMs` ms with `token`; false when someone holds it. */
export async function acquireLease(client: RedisClient, key: string, token: string, leaseMs: number): Promise<boolean> {
  return (await client.set(key, token, 'PX', leaseMs, 'NX')) === 'OK';
}

/** Renews the lease at `key` for `leaseMs` ms if `token` still holds it; false when lost. */
export async function extendLease(client: RedisClient, key: string, token: string, leaseMs: number): Promise<boolean> {
  return Number(await scripts.extend(client, [key, token, leaseMs])) === 1;
}

/** Releases the lease at `key` if `token` still holds it (never someone else's); true when released. */
export async function releaseLease(client: RedisClient, key: string, token: string): Promise<boolean> {
  return Number(await scripts.release(client, [key, token])) === 1;
}

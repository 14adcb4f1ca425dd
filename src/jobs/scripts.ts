import type { Redis } from 'ioredis';
import { readLua, registerScripts } from '../connection/scripts.js';

/** Versioned command names: a changed script never meets an old cached SHA under the same name. */
const SCRIPTS = {
  redkitJobCreateV1: 'job-create-1.lua',
  redkitJobUpdateV1: 'job-update-1.lua',
  redkitJobRestoreV1: 'job-restore-1.lua',
  redkitJobLockExtendV1: 'job-lock-extend-1.lua',
  redkitJobLockReleaseV1: 'job-lock-release-1.lua',
} as const;

/** A client with the job scripts defined. */
export type JobScriptClient = Redis & {
  redkitJobCreateV1(key: string, ...args: Array<string | number>): Promise<number>;
  redkitJobUpdateV1(key: string, ...args: Array<string | number>): Promise<string[]>;
  redkitJobRestoreV1(key: string, ...args: Array<string | number>): Promise<number>;
  redkitJobLockExtendV1(key: string, token: string, leaseMs: number): Promise<number>;
  redkitJobLockReleaseV1(key: string, token: string): Promise<number>;
};

registerScripts(Object.fromEntries(Object.entries(SCRIPTS).map(([name, file]) => [name, { numberOfKeys: 1, lua: readLua(import.meta.url, `./lua/${file}`) }])));

/** The client, typed with the job scripts (registered with the connection, so defined on every client it creates). */
export function withJobScripts(client: Redis): JobScriptClient {
  return client as JobScriptClient;
}

import type { Redis } from 'ioredis';
import { readLua, registerScripts, scriptMethods } from '../connection/scripts.js';

/** Versioned command names: a changed script never meets an old cached SHA under the same name. */
const SCRIPTS = {
  redkitJobCreateV1: 'job-create-1.lua',
  redkitJobUpdateV1: 'job-update-1.lua',
  redkitJobRestoreV1: 'job-restore-1.lua',
  redkitJobLockExtendV1: 'job-lock-extend-1.lua',
  redkitJobLockReleaseV1: 'job-lock-release-1.lua',
} as const;

/** The job scripts, callable by name. */
export type JobScriptClient = {
  redkitJobCreateV1(key: string, ...args: Array<string | number>): Promise<number>;
  redkitJobUpdateV1(key: string, ...args: Array<string | number>): Promise<string[]>;
  redkitJobRestoreV1(key: string, ...args: Array<string | number>): Promise<number>;
  redkitJobLockExtendV1(key: string, token: string, leaseMs: number): Promise<number>;
  redkitJobLockReleaseV1(key: string, token: string): Promise<number>;
};

registerScripts(Object.fromEntries(Object.entries(SCRIPTS).map(([name, file]) => [name, { numberOfKeys: 1, lua: readLua(import.meta.url, `./lua/${file}`) }])));

const NAMES = Object.keys(SCRIPTS) as Array<keyof typeof SCRIPTS>;

/** The job scripts as methods running on `client` (key first, then arguments). */
export function withJobScripts(client: Redis): JobScriptClient {
  return scriptMethods(client, NAMES) as unknown as JobScriptClient;
}

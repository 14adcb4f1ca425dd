import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

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

const sources = new Map<string, string>();
/** Reads `lua/<file>` next to this module, or from the source tree when running from dist/ (tsc does not copy .lua files). */
function source(file: string): string {
  const cached = sources.get(file);
  if (cached) return cached;
  for (const url of [new URL(`./lua/${file}`, import.meta.url), new URL(`../../../src/jobs/lua/${file}`, import.meta.url)]) {
    try {
      const text = readFileSync(fileURLToPath(url), 'utf8');
      sources.set(file, text);
      return text;
    } catch {
      // try the next place
    }
  }
  throw new Error(`redkit jobs: lua/${file} not found next to the jobs module nor in src/jobs/lua`);
}

const defined = new WeakSet<Redis>();
/** Defines the job scripts on `client` once (ioredis then runs EVALSHA with an EVAL fallback). */
export function withJobScripts(client: Redis): JobScriptClient {
  if (!defined.has(client)) {
    for (const [name, file] of Object.entries(SCRIPTS)) {
      if (!(name in client)) client.defineCommand(name, { numberOfKeys: 1, lua: source(file) });
    }
    defined.add(client);
  }
  return client as JobScriptClient;
}

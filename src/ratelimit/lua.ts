import { readFileSync } from 'node:fs';

/**
 * Reads a script of this capability. In the repository the source (`src/ratelimit/lua/`) wins,
 * so a plain `tsc` never runs a stale copy; a published package has only the copy that the
 * build puts next to the compiled code (`dist/src/ratelimit/lua/`).
 */
export function loadLua(file: string): string {
  const candidates = [new URL(`../../../src/ratelimit/lua/${file}`, import.meta.url), new URL(`./lua/${file}`, import.meta.url)];
  for (const url of candidates) {
    try {
      return readFileSync(url, 'utf8');
    } catch {
      // try the next location
    }
  }
  throw new Error(`redkit: rate-limit script ${file} not found in src/ratelimit/lua/ nor next to ${import.meta.url}`);
}

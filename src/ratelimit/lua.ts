import { readFileSync } from 'node:fs';

/**
 * Reads a script of this capability. The `.lua` files live in `src/ratelimit/lua/`; compiled
 * code runs from `dist/src/ratelimit/`, so both the copied location and the source one are tried.
 */
export function loadLua(file: string): string {
  const candidates = [new URL(`./lua/${file}`, import.meta.url), new URL(`../../../src/ratelimit/lua/${file}`, import.meta.url)];
  for (const url of candidates) {
    try {
      return readFileSync(url, 'utf8');
    } catch {
      // try the next location
    }
  }
  throw new Error(`redkit: rate-limit script ${file} not found next to ${import.meta.url} nor in src/ratelimit/lua/`);
}

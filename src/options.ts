import { InvalidArgumentError } from './errors.js';

/**
 * Refuses an options object with a key outside `known`, naming the key and the accepted ones
 * (`namespace("d", { ttll: 5 })` → `namespace options: unknown option "ttll" (did you mean "ttl"?)`).
 * Also refuses a non-object. `undefined` passes (every option is optional then).
 */
export function assertOptions(options: unknown, known: readonly string[], where: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(
      where,
      `${where} must be an object (got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options})`,
    );
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = closest(key, known);
    throw new InvalidArgumentError(
      `${where}.${key}`,
      `${where}: unknown option "${key}"${near ? ` (did you mean "${near}"?)` : ''}; known options: ${known.join(', ')}`,
    );
  }
}

/** The known key within edit distance 2 of `key` (case-insensitive), if any. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

// Multi-key commands on a Redis Cluster: keys of different hash slots cannot share a command
// (CROSSSLOT), so a batch is split per slot, the parts run in parallel, and the answers are put
// back in the caller's order. A slot whose master is down fails only its own keys.
import calculateSlot from 'cluster-key-slot';

/** The hash slot of `key` (honours `{tag}`), as Redis Cluster computes it. */
export function slotOf(key: string): number {
  return calculateSlot(key);
}

/** Indices of `keys` grouped by hash slot, each group in the caller's order. */
export function groupBySlot(keys: readonly string[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < keys.length; i++) {
    const slot = calculateSlot(keys[i]!);
    const group = groups.get(slot);
    if (group) group.push(i);
    else groups.set(slot, [i]);
  }
  return groups;
}

/** What `runPerSlot` brings back: answers in the caller's order, and which keys' slots failed. */
export interface SlotResults<R> {
  /** One answer per key, in the caller's order; `undefined` where the key's slot failed. */
  values: Array<R | undefined>;
  /** Indices of the keys whose slot failed, ascending; empty when every slot answered. */
  failed: number[];
  /** The first failure (raw, for the caller to map), or undefined. */
  error: unknown;
}

const NONE: number[] = [];

/**
 * Runs `many` once per hash slot of `keys` (all slots in parallel; the cluster client routes each
 * call to its master, and per-node corking sends one node's calls in one write). `many` gets the
 * slot's keys in the caller's order, with their indices in `keys`, and answers one value per key;
 * `one`, when given, serves a slot holding a single key (saves an array and a promise per key:
 * keys spread over 16,384 slots rarely share one). Never rejects: a failed slot is reported in
 * `failed`, so that the other shards' answers are kept.
 */
export function runPerSlot<R>(
  keys: readonly string[],
  many: (slotKeys: string[], indices: number[]) => Promise<R[]>,
  one?: (key: string, index: number) => Promise<R>,
): Promise<SlotResults<R>> {
  const values = new Array<R | undefined>(keys.length);
  const groups = groupBySlot(keys);
  if (groups.size === 0) return Promise.resolve({ values, failed: NONE, error: undefined });
  // Settled by counting instead of Promise.all: one promise for the whole batch, not one per slot.
  return new Promise((resolve) => {
    let pending = groups.size;
    let failed: number[] | null = null;
    let error: unknown;
    const settled = () => {
      if (--pending === 0) resolve({ values, failed: failed === null ? NONE : failed.sort((a, b) => a - b), error });
    };
    const fail = (indices: number[], err: unknown) => {
      if (failed === null) {
        failed = [];
        error = err;
      }
      for (const i of indices) failed.push(i);
      settled();
    };
    for (const indices of groups.values()) {
      try {
        if (one !== undefined && indices.length === 1) {
          const i = indices[0]!;
          one(keys[i]!, i).then(
            (answer) => {
              values[i] = answer;
              settled();
            },
            (err: unknown) => fail(indices, err),
          );
        } else {
          many(
            indices.map((i) => keys[i]!),
            indices,
          ).then(
            (answers) => {
              for (let j = 0; j < indices.length; j++) values[indices[j]!] = answers[j];
              settled();
            },
            (err: unknown) => fail(indices, err),
          );
        }
      } catch (err) {
        fail(indices, err);
      }
    }
  });
}

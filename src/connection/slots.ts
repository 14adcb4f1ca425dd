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

/**
 * Runs `fn` once per hash slot of `keys` (all slots in parallel; the cluster client routes each
 * call to its master, and per-node corking sends one node's calls in one write). `fn` gets the
 * slot's keys in the caller's order, with their indices in `keys`, and answers one value per key. Never rejects: a failed slot
 * is reported in `failed`, so that the other shards' answers are kept.
 */
export async function runPerSlot<R>(keys: readonly string[], fn: (slotKeys: string[], indices: number[]) => Promise<R[]>): Promise<SlotResults<R>> {
  const values = new Array<R | undefined>(keys.length);
  const failedGroups: number[][] = [];
  let error: unknown;
  const groups = [...groupBySlot(keys).values()];
  await Promise.all(
    groups.map((indices) => {
      let pending: Promise<R[]>;
      try {
        pending = fn(
          indices.map((i) => keys[i]!),
          indices,
        );
      } catch (err) {
        pending = Promise.reject(err);
      }
      return pending.then(
        (answers) => {
          for (let j = 0; j < indices.length; j++) values[indices[j]!] = answers[j];
        },
        (err: unknown) => {
          error ??= err;
          failedGroups.push(indices);
        },
      );
    }),
  );
  const failed = failedGroups.flat().sort((a, b) => a - b);
  return { values, failed, error };
}

// The restart guard's knowledge of "which server run serves this name", on a Redis Cluster.
// On one server there is one run_id (or one data marker). A cluster has one per master, and a
// failover or a reshard changes which one serves a name: one shared value would flip between
// masters on every other call (each flip a refused script and a retry) and, worse, its INFO
// would go to whichever node ioredis picks, a dead one included.
import calculateSlot from 'cluster-key-slot';
import type { Cluster } from 'ioredis';

/** The restart guard's view of the server: run_id (born '') or data marker (born: created at, ms). */
export interface ServerRun {
  id: string;
  born: string;
}

/** A run id no server has: the script answers it with the real run_id of the name's node (reply 4). */
export const UNKNOWN_RUN: ServerRun = Object.freeze({ id: 'unknown', born: '' });

const SLOTS = 16384;
let slotTags: string[] | null = null;

/**
 * A short hash tag that hashes to `slot`. The cluster marker of a slot is stored under it, so the
 * marker lives, migrates and is lost with the slot's data, which is what the guard must detect.
 * The table is built once (about 170 k CRC16s of short strings: 15 ms measured), only where INFO is refused.
 */
export function tagForSlot(slot: number): string {
  if (!slotTags) {
    const table: string[] = new Array(SLOTS);
    let missing = SLOTS;
    for (let i = 0; missing > 0; i++) {
      const tag = i.toString(36);
      const s = calculateSlot(tag);
      if (table[s] === undefined) {
        table[s] = tag;
        missing--;
      }
    }
    slotTags = table;
  }
  return slotTags[slot]!;
}

/**
 * Runs per cluster node (run_id mode, keyed by the `host:port` the slot map names for the key's
 * slot) or per slot (marker mode: the marker is per slot). Learned from the scripts' own
 * "stale run_id" replies: no INFO is sent to a node the call does not go to anyway.
 */
export class ClusterRuns {
  readonly #byNode = new Map<string, ServerRun>();
  readonly #bySlot = new Map<number, ServerRun>();

  /** Where `key`'s slot is served, as the client's slot map says (`slot:<n>` when unknown). */
  nodeOf(cluster: Cluster, key: string): string {
    const slot = calculateSlot(key);
    const slots = (cluster as unknown as { slots: Array<string[] | undefined> }).slots;
    return slots[slot]?.[0] ?? `slot:${slot}`;
  }

  run(node: string): ServerRun {
    return this.#byNode.get(node) ?? UNKNOWN_RUN;
  }

  learned(node: string, run: ServerRun): void {
    this.#byNode.set(node, run);
  }

  marker(slot: number): ServerRun | undefined {
    return this.#bySlot.get(slot);
  }

  markerLearned(slot: number, run: ServerRun): void {
    this.#bySlot.set(slot, run);
  }

  clear(): void {
    this.#byNode.clear();
    this.#bySlot.clear();
  }
}

// Slot-safe layout: every multi-key command, pipeline and script keeps its keys in one hash slot.
// Needed on a Redis Cluster, and behind single-endpoint proxies that still enforce slots
// (ElastiCache Serverless, Azure Enterprise, Redis Cloud without the OSS Cluster API): one
// endpoint, no MOVED to follow, but CROSSSLOT for a command whose keys span slots.
// Capabilities ask the connection (`connection.slotSafe`) or, where they only hold a client
// (script batching, unlink helpers), `isSlotSafe(client)`.
import type { Logger, RedkitConfig } from '../config/types.js';
import { isCluster, type RedisClient } from './cluster.js';

/** Single-endpoint clients registered slot-safe (clusters always are). */
const marked = new WeakSet<RedisClient>();
/** False until some client is marked: single-server calls then pay one boolean check, no lookup. */
let anyMarked = false;

/** True when multi-key calls on `client` must stay in one slot: a Cluster, or a client the connection marked. */
export function isSlotSafe(client: RedisClient): boolean {
  return isCluster(client) || (anyMarked && marked.has(client));
}

/** Marks a single-endpoint client slot-safe (only the connection does this). */
export function markSlotSafe(client: RedisClient): void {
  anyMarked = true;
  marked.add(client);
}

/** True for a CROSSSLOT error reply (raw, or as the cause of a typed RedkitError). */
export function isCrossSlot(err: unknown): boolean {
  for (let e = err as { name?: string; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 3; e = e.cause as typeof e, depth++) {
    if (e.name === 'ReplyError' && typeof e.message === 'string' && e.message.startsWith('CROSSSLOT')) return true;
  }
  return false;
}

/**
 * The connection's slot-safe setting and its detection. On at once on a cluster or with
 * `slotSafe: true`; with `'auto'` on one endpoint, the first CROSSSLOT reply turns it on.
 */
export class SlotSafety {
  #on: boolean;
  readonly #auto: boolean;
  readonly #logger: Logger;

  constructor(config: RedkitConfig, logger: Logger) {
    this.#on = config.topology === 'cluster' || config.slotSafe === true;
    this.#auto = !this.#on && config.slotSafe === 'auto' && config.mode !== 'standalone';
    this.#logger = logger;
  }

  get on(): boolean {
    return this.#on;
  }

  /** Registers the shared client: script batching reads the setting from it. */
  adopt(client: RedisClient): void {
    if (this.#on && !isCluster(client)) markSlotSafe(client);
  }

  /**
   * Called with each failed call's raw error: a CROSSSLOT under `'auto'` means this endpoint
   * enforces slots. The call that saw it still fails (typed, by the caller's mapping).
   * Returns true when this error turned the setting on.
   */
  notice(err: unknown, client: RedisClient | null): boolean {
    if (!this.#auto || this.#on || !isCrossSlot(err)) return false;
    this.#on = true;
    if (client && !isCluster(client)) markSlotSafe(client);
    this.#logger.warn(
      { setting: 'REDIS_SLOT_SAFE', detected: 'CROSSSLOT' },
      '[redkit] this Redis endpoint enforces hash slots (it answered CROSSSLOT to a multi-key call): slot-safe layout is now on ' +
        '(cache batches, scripts and unlinks go per slot; the call that saw CROSSSLOT failed). Set REDIS_SLOT_SAFE=true to have it from the start: ' +
        'queues created before this keep their untagged BullMQ prefix and keep failing with CROSSSLOT, since BullMQ keys need the tagged prefix from the start',
    );
    return true;
  }
}

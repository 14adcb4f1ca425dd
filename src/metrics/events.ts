import type { Logger } from '../config/types.js';
import { InvalidArgumentError } from '../errors.js';

/**
 * The events of `kit.on(…)`. They are in-process, so a payload may carry a cache key or a lock
 * name (the app already knows them); it never carries a value, a password or a token. Metric
 * labels never carry keys or names: see the README's "Metrics and events".
 */
export interface RedkitEventMap {
  /** The toolkit's mode changed (`redis` ⇄ `degraded`); `cause` is the classified error, if any. */
  mode: { from: 'standalone' | 'redis' | 'degraded'; to: 'standalone' | 'redis' | 'degraded'; cause?: string };
  /** The connection's state machine moved (`connecting`, `ready`, `reconnecting`, …). */
  state: { from: string; to: string };
  /** Redis restarted: a new process (`run_id`), or the data redkit wrote is gone (`marker`). */
  restart: { via: 'run_id' | 'marker' };
  /** A cache read found a value; `layer` is `l1` (in-process) or `l2` (Redis or the memory store). */
  hit: { namespace: string; key: string; layer: 'l1' | 'l2'; stale: boolean };
  /** A cache read found nothing. */
  miss: { namespace: string; key: string };
  /** A cache loader ran (`ok` false when it threw); `coalesced` callers shared it. */
  load: { namespace: string; key: string; durationMs: number; ok: boolean };
  /** A lock (`kind` lock), semaphore slot (`sem`) or leader lease (`leader`) was acquired after `waitedMs`. */
  lockAcquired: { kind: string; name: string; waitedMs: number };
  /** An acquire did not grant: `busy` (no wait), `timeout` (its wait ran out), `aborted`, `guard` (restart guard), `unavailable` (Redis). */
  lockRefused: { kind: string; name: string; reason: 'busy' | 'timeout' | 'aborted' | 'guard' | 'unavailable'; waitedMs: number };
  /** A held lease was lost (ran out, or found taken) before it was released. */
  lockLost: { kind: string; name: string };
  /** This instance became leader of `role`. */
  elected: { role: string };
  /** This instance stopped leading `role`: `resigned` (resign or close), else lost, with `reason`. */
  revoked: { role: string; resigned: boolean; reason: string };
  /** A rate-limit decision refused a request; `key` is `<limiter name>:<key>`. */
  limited: { key: string; decidedBy: string; retryAfterMs: number };
  /** A queued job finished. */
  job: { queue: string; outcome: 'completed' | 'failed' };
  /** A durable job record was created (`queued`) or updated to `status`. */
  jobState: { id: string; kind: string; status: string };
  /** A WebSocket connection of the gateway closed with `code`. */
  gatewayClose: { code: number };
}

/** The name of a redkit event. */
export type RedkitEventName = keyof RedkitEventMap;

/** Every event name, in the order of RedkitEventMap. */
export const REDKIT_EVENTS: readonly RedkitEventName[] = [
  'mode',
  'state',
  'restart',
  'hit',
  'miss',
  'load',
  'lockAcquired',
  'lockRefused',
  'lockLost',
  'elected',
  'revoked',
  'limited',
  'job',
  'jobState',
  'gatewayClose',
];

/** A listener of event `E`. */
export type RedkitListener<E extends RedkitEventName> = (payload: RedkitEventMap[E]) => void;

/**
 * The toolkit's event hooks. Emit sites test `events.wants.<name>` before building a payload, so
 * an event nobody listens to costs one property read (bench/metrics.ts measures it).
 */
export class RedkitEvents {
  /** Whether anyone listens to each event; emit sites read it before building a payload. */
  readonly wants: Record<RedkitEventName, boolean>;
  readonly #listeners = new Map<RedkitEventName, Set<RedkitListener<RedkitEventName>>>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
    // Every key present from the start: one object shape, so the hot-path read stays monomorphic.
    this.wants = Object.fromEntries(REDKIT_EVENTS.map((name) => [name, false])) as Record<RedkitEventName, boolean>;
  }

  /** Adds `listener` for `event`; returns a function that removes it. */
  on<E extends RedkitEventName>(event: E, listener: RedkitListener<E>): () => void {
    if (!REDKIT_EVENTS.includes(event))
      throw new InvalidArgumentError('event', `unknown redkit event "${String(event)}" (events: ${REDKIT_EVENTS.join(', ')})`);
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as RedkitListener<RedkitEventName>);
    this.wants[event] = true;
    return () => this.off(event, listener);
  }

  /** Removes `listener` from `event`. */
  off<E extends RedkitEventName>(event: E, listener: RedkitListener<E>): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    set.delete(listener as RedkitListener<RedkitEventName>);
    if (set.size === 0) {
      this.#listeners.delete(event);
      this.wants[event] = false;
    }
  }

  /** Calls every listener of `event`; a listener that throws is logged, never breaks the caller. */
  emit<E extends RedkitEventName>(event: E, payload: RedkitEventMap[E]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        listener(payload);
      } catch (err) {
        this.#logger.warn({ event, err: String((err as Error)?.message ?? err) }, '[redkit] an event listener threw');
      }
    }
  }
}

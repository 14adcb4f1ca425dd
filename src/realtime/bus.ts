import { InvalidArgumentError } from '../errors.js';

/** A message as handlers receive it: the payload plus who sent it and when. */
export interface BusMessage<T = unknown> {
  /** The logical channel it was published on (without the key prefix). */
  channel: string;
  /** Instance id of the sender. */
  from: string;
  /** Sender's clock at publish time, ms since the epoch. */
  at: number;
  /** The JSON payload. */
  data: T;
}

/** Called with each message of a subscribed channel. Exceptions are caught and logged. */
export type BusHandler<T = unknown> = (message: BusMessage<T>) => void;

/**
 * A pub/sub bus across instances: JSON messages tagged with the sender's instance id.
 * At-most-once (Redis pub/sub): state that matters must be re-read from its store after a
 * reconnect, never rebuilt from messages alone. Handlers on the publishing instance get the
 * message at once, also while Redis is down.
 */
export interface Bus {
  /** This instance's id, as put in `from`. */
  readonly instanceId: string;
  /**
   * Delivers `data` to this instance's handlers at once and to other instances through Redis.
   * Resolves `true` when Redis took it, `false` when only local handlers got it (standalone or degraded).
   * @throws InvalidArgumentError for a bad channel name or data that is not JSON-serialisable.
   */
  publish<T>(channel: string, data: T): Promise<boolean>;
  /** Adds a handler; resolves (once Redis confirmed the subscription, when connected) to its remover. */
  subscribe<T>(channel: string, handler: BusHandler<T>): Promise<() => Promise<void>>;
  /** Runs `fn` after every reconnect, when messages may have been lost. Returns a remover. */
  onResync(fn: () => void): () => void;
  /** Drops every handler. */
  close(): Promise<void>;
}

/** Bus channel names: 1–200 characters of letters, digits and `:._-`. */
export function assertChannel(channel: unknown): asserts channel is string {
  if (typeof channel !== 'string' || !/^[\w:.-]{1,200}$/.test(channel)) {
    throw new InvalidArgumentError('channel', `channel must be 1-200 characters of letters, digits and ":._-" (got ${JSON.stringify(channel)?.slice(0, 60)})`);
  }
}

/** Serialises a payload once, naming the input on failure. */
export function encodeEnvelope(from: string, channel: string, data: unknown, at = Date.now()): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (err) {
    throw Object.assign(new InvalidArgumentError('data', `bus data for channel "${channel}" must be JSON-serialisable: ${(err as Error).message}`), {
      cause: err,
    });
  }
  if (json === undefined) throw new InvalidArgumentError('data', `bus data for channel "${channel}" must be JSON-serialisable (got ${typeof data})`);
  // Hand-built so that the payload is stringified once, and matches what the Lua scripts emit.
  return `{"from":${JSON.stringify(from)},"at":${at},"data":${json}}`;
}

/** Parses a wire envelope; `null` for anything that is not one (foreign publishers on the channel). */
export function decodeEnvelope(channel: string, raw: string): BusMessage | null {
  try {
    const parsed = JSON.parse(raw) as { from?: unknown; at?: unknown; data?: unknown };
    if (!parsed || typeof parsed !== 'object' || typeof parsed.from !== 'string') return null;
    return { channel, from: parsed.from, at: typeof parsed.at === 'number' ? parsed.at : Number(parsed.at) || 0, data: parsed.data };
  } catch {
    return null;
  }
}

/** Local fan-out shared by both buses: handlers per channel, isolated from each other's exceptions. */
export class HandlerTable {
  readonly #handlers = new Map<string, Set<BusHandler>>();
  readonly #onError: (err: unknown, channel: string) => void;

  constructor(onError: (err: unknown, channel: string) => void) {
    this.#onError = onError;
  }

  /** Adds; returns true when it is the channel's first handler. */
  add(channel: string, handler: BusHandler): boolean {
    let set = this.#handlers.get(channel);
    const first = !set;
    if (!set) this.#handlers.set(channel, (set = new Set()));
    set.add(handler);
    return first;
  }

  /** Removes; returns true when the channel has no handler left. */
  remove(channel: string, handler: BusHandler): boolean {
    const set = this.#handlers.get(channel);
    if (!set?.delete(handler)) return false;
    if (set.size > 0) return false;
    this.#handlers.delete(channel);
    return true;
  }

  has(channel: string): boolean {
    return this.#handlers.has(channel);
  }

  channels(): string[] {
    return [...this.#handlers.keys()];
  }

  deliver(message: BusMessage): void {
    const set = this.#handlers.get(message.channel);
    if (!set) return;
    for (const handler of set) {
      try {
        handler(message);
      } catch (err) {
        this.#onError(err, message.channel);
      }
    }
  }

  clear(): void {
    this.#handlers.clear();
  }
}

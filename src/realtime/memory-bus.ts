import type { Logger } from '../config/types.js';
import { rateLimitedLog } from '../rate-limited-log.js';
import { assertChannel, HandlerTable, type Bus, type BusHandler, type BusMessage } from './bus.js';

/** The standalone bus: in-process fan-out, same contract as the Redis bus for one instance. */
export class MemoryBus implements Bus {
  readonly instanceId: string;
  readonly #table: HandlerTable;

  constructor(instanceId: string, logger: Logger) {
    this.instanceId = instanceId;
    // A handler that throws does so on every message: a few lines a minute per channel.
    const warn = rateLimitedLog(logger, 'warn', { burst: 3 });
    this.#table = new HandlerTable((err, channel) =>
      warn(`handler:${channel}`, { channel, err: String((err as Error)?.message ?? err) }, '[realtime] a bus handler threw'),
    );
  }

  async publish<T>(channel: string, data: T): Promise<boolean> {
    assertChannel(channel);
    // Round-trip through JSON so handlers get the same copy semantics as across instances.
    let copy: unknown;
    try {
      copy = JSON.parse(JSON.stringify(data) ?? 'null');
    } catch (err) {
      const { InvalidArgumentError } = await import('../errors.js');
      throw new InvalidArgumentError('data', `bus data for channel "${channel}" must be JSON-serialisable: ${(err as Error).message}`);
    }
    this.#table.deliver({ channel, from: this.instanceId, at: Date.now(), data: copy } satisfies BusMessage);
    return false;
  }

  async subscribe<T>(channel: string, handler: BusHandler<T>): Promise<() => Promise<void>> {
    assertChannel(channel);
    this.#table.add(channel, handler as BusHandler);
    return async () => {
      this.#table.remove(channel, handler as BusHandler);
    };
  }

  onResync(): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    this.#table.clear();
  }
}

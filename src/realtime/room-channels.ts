import type { BusHandler } from './bus.js';
import type { RedisBus } from './redis-bus.js';

/**
 * Where presence or reaction events of rooms travel. On one server (or Sentinel) every room shares
 * the bus channel `base`, subscribed once. On a Redis Cluster each room has its own sharded channel
 * in the slot of its keys (the Lua scripts SPUBLISH from there), subscribed while this instance
 * shows the room: a shard then carries only the events of its rooms, to the instances that watch
 * them, as @socket.io/redis-adapter's sharded adapter does per room.
 */
export class RoomChannels<T> {
  readonly #bus: RedisBus;
  readonly #base: string;
  readonly #handler: BusHandler<T>;
  readonly #global: Promise<() => Promise<void>> | null = null;
  readonly #rooms = new Map<string, Promise<() => Promise<void>>>();

  constructor(bus: RedisBus, base: string, handler: BusHandler<T>) {
    this.#bus = bus;
    this.#base = base;
    this.#handler = handler;
    if (!bus.sharded) {
      this.#global = bus.subscribe<T>(base, handler);
      this.#global.catch(() => undefined);
    }
  }

  /** The Redis channel `room`'s events are published on (a script argument). */
  channel(room: string): string {
    return this.#bus.roomChannel(this.#base, room);
  }

  /** The command scripts publish with: PUBLISH, or SPUBLISH on a cluster. */
  get publishCommand(): 'PUBLISH' | 'SPUBLISH' {
    return this.#bus.publishCommand;
  }

  /** Starts receiving `room`'s events (cluster); resolves once subscribed, or at once while Redis is down. Never rejects. */
  async add(room: string): Promise<void> {
    if (!this.#bus.sharded || this.#rooms.has(room)) return;
    const subscribed = this.#bus.subscribeRoom<T>(this.#base, room, this.#handler);
    this.#rooms.set(room, subscribed);
    await subscribed.catch(() => undefined);
  }

  /** Stops receiving `room`'s events (cluster). */
  remove(room: string): void {
    const subscribed = this.#rooms.get(room);
    if (!subscribed) return;
    this.#rooms.delete(room);
    subscribed.then((unsubscribe) => unsubscribe()).catch(() => undefined);
  }

  async close(): Promise<void> {
    const all = [...this.#rooms.values(), ...(this.#global ? [this.#global] : [])];
    this.#rooms.clear();
    await Promise.all(all.map((p) => p.then((unsubscribe) => unsubscribe()).catch(() => undefined)));
  }
}

// The Redis side of presence (keys, scripts, the instance heartbeat registry and reaping), separate from RedisPresence's views and events.
import type { RedkitContext } from '../context.js';
import type { RedisBus } from './redis-bus.js';
import { decodeMeta, type LocalHoldings, type MemberMeta } from './presence.js';
import { presenceScripts } from './scripts.js';

/** The bus channel presence events travel on (seed 004's `presence:events`). */
export const PRESENCE_CHANNEL = 'presence:events';

/**
 * @internal The commands RedisPresence sends: joins and leaves (their scripts publish the events),
 * snapshots, the per-instance heartbeat and room registry, and reaping instances whose heartbeat expired.
 */
export class PresenceRegistry {
  readonly #ctx: RedkitContext;
  readonly #bus: RedisBus;
  readonly #ttlMs: number;
  readonly #local: LocalHoldings;
  /** True once the heartbeat was renewed; reset while the instance idles (its heartbeat may then lapse). */
  beating = false;

  constructor(ctx: RedkitContext, bus: RedisBus, ttlMs: number, local: LocalHoldings) {
    this.#ctx = ctx;
    this.#bus = bus;
    this.#ttlMs = ttlMs;
    this.#local = local;
  }

  // ---- keys -------------------------------------------------------------------------------

  #membersKey(room: string) {
    return this.#ctx.keys.tagged('realtime', room, 'members');
  }
  #metaKey(room: string) {
    return this.#ctx.keys.tagged('realtime', room, 'meta');
  }
  #instKey(room: string, instanceId: string) {
    return this.#ctx.keys.tagged('realtime', room, 'inst', instanceId);
  }
  #instancesKey() {
    return this.#ctx.keys.key('realtime', 'instances');
  }
  /** Rooms an instance holds members in, for reaping it: pruned on its last leave, expires 3 heartbeat TTLs after its last beat. */
  #instanceRoomsKey(instanceId: string) {
    return this.#ctx.keys.key('realtime', 'instance', instanceId, 'rooms');
  }
  /**
   * Zset room → deadline (ms): rooms some live instance holds members in. Every heartbeat renews
   * the holder's rooms and drops the expired ones, so it is bounded by the occupied rooms.
   */
  #roomsKey() {
    return this.#ctx.keys.key('realtime', 'active-rooms');
  }

  async announce(room: string, memberId: string, metaJson: string): Promise<number> {
    if (!this.beating) await this.heartbeat();
    return this.#ctx.connection.run(async (client) => {
      const [, , , result] = await Promise.all([
        client.zadd(this.#roomsKey(), Date.now() + this.#ttlMs, room),
        client.sadd(this.#instanceRoomsKey(this.#ctx.instanceId), room),
        client.pexpire(this.#instanceRoomsKey(this.#ctx.instanceId), 3 * this.#ttlMs),
        presenceScripts.join(client, [
          this.#membersKey(room),
          this.#metaKey(room),
          this.#instKey(room, this.#ctx.instanceId),
          memberId,
          metaJson,
          this.#bus.roomChannel(PRESENCE_CHANNEL, room),
          this.#ctx.instanceId,
          room,
          Date.now(),
          this.#bus.publishCommand,
        ]),
      ]);
      return Number(result);
    });
  }

  /** Withdraws `memberId` ('' for all) held by `instanceId` in `room`; returns the ids that left the room. */
  withdraw(room: string, instanceId: string, memberId: string): Promise<string[]> {
    return this.#ctx.connection.run(async (client) => {
      const result = await presenceScripts.leave(client, [
        this.#membersKey(room),
        this.#metaKey(room),
        this.#instKey(room, instanceId),
        this.#bus.roomChannel(PRESENCE_CHANNEL, room),
        this.#ctx.instanceId,
        room,
        Date.now(),
        memberId,
        this.#bus.publishCommand,
      ]);
      return (result as string[]) ?? [];
    });
  }

  /**
   * After a leave: drops the room from this instance's rooms when it holds nobody there any more,
   * and from the active rooms when the room emptied. A join racing with this (here or elsewhere)
   * is put back by its holder's next heartbeat at the latest.
   */
  async forgetRoom(room: string, someoneLeft: boolean): Promise<void> {
    if (this.#local.rooms().includes(room)) return;
    await this.#ctx.connection.run(async (client) => {
      const [, size] = await Promise.all([
        client.srem(this.#instanceRoomsKey(this.#ctx.instanceId), room),
        someoneLeft ? client.hlen(this.#membersKey(room)) : Promise.resolve(1),
      ]);
      if (size === 0) await client.zrem(this.#roomsKey(), room);
    });
  }

  /** The room's members and their meta, as Redis holds them. */
  async snapshot(room: string): Promise<Map<string, MemberMeta>> {
    const raw = await this.#ctx.connection.run((client) => client.hgetall(this.#metaKey(room)));
    return new Map(Object.entries(raw).map(([id, json]) => [id, decodeMeta(json)]));
  }

  /** Renews the heartbeat; returns Redis's answer (1 alive, 0 had expired, -1 unknown). */
  async heartbeat(): Promise<number> {
    const result = await this.#ctx.connection.run((client) => presenceScripts.heartbeat(client, [this.#instancesKey(), this.#ctx.instanceId, this.#ttlMs]));
    this.beating = true;
    return Number(result);
  }

  /** Renews this instance's rooms in the active-rooms zset and its own rooms set; drops expired rooms. */
  async renewRooms(): Promise<void> {
    const rooms = this.#local.rooms();
    const deadline = Date.now() + this.#ttlMs;
    await this.#ctx.connection.run(async (client) => {
      const work: Array<Promise<unknown>> = [client.zremrangebyscore(this.#roomsKey(), '-inf', Date.now())];
      // Chunked: one command per 500 rooms keeps each argument list small.
      for (let i = 0; i < rooms.length; i += 500) {
        const chunk = rooms.slice(i, i + 500);
        work.push(client.zadd(this.#roomsKey(), ...chunk.flatMap((room) => [deadline, room])));
        work.push(client.sadd(this.#instanceRoomsKey(this.#ctx.instanceId), ...chunk));
      }
      if (rooms.length > 0) work.push(client.pexpire(this.#instanceRoomsKey(this.#ctx.instanceId), 3 * this.#ttlMs));
      await Promise.all(work);
    });
  }

  /** Rooms some live instance holds members in, forgetting the empty ones. */
  activeRooms(): Promise<string[]> {
    return this.#ctx.connection.run(async (client) => {
      const all = await client.zrangebyscore(this.#roomsKey(), Date.now(), '+inf');
      const sizes = await Promise.all(all.map((room) => client.hlen(this.#membersKey(room))));
      const empty = all.filter((_, i) => sizes[i] === 0);
      // Forget empty rooms lazily; a join racing with this re-adds its room right after.
      if (empty.length > 0) await client.zrem(this.#roomsKey(), ...empty);
      return all.filter((_, i) => sizes[i]! > 0).sort();
    });
  }

  /** Instances whose heartbeat deadline passed. */
  async deadInstances(): Promise<string[]> {
    return (await this.#ctx.connection.run((client) => presenceScripts.expired(client, [this.#instancesKey(), '']))) as string[];
  }

  /** Withdraws every member of a dead instance, calling `onLeft` for each that left its room, then forgets the instance. */
  async reap(instanceId: string, onLeft: (room: string, id: string) => void): Promise<{ rooms: number; left: number }> {
    const rooms = await this.#ctx.connection.run((client) => client.smembers(this.#instanceRoomsKey(instanceId)));
    let left = 0;
    for (const room of rooms) {
      for (const id of await this.withdraw(room, instanceId, '')) {
        left++;
        onLeft(room, id);
      }
    }
    const forgot = Number(await this.#ctx.connection.run((client) => presenceScripts.expired(client, [this.#instancesKey(), instanceId])));
    if (forgot === 1) await this.#ctx.connection.run((client) => client.del(this.#instanceRoomsKey(instanceId)));
    return { rooms: rooms.length, left };
  }

  /** A clean shutdown: withdraws every local member and this instance from the registry at once. */
  async withdrawAll(): Promise<void> {
    const rooms = new Set(this.#local.rooms());
    await Promise.all([...rooms].map((room) => this.withdraw(room, this.#ctx.instanceId, '')));
    await this.#ctx.connection.run((client) =>
      Promise.all([client.zrem(this.#instancesKey(), this.#ctx.instanceId), client.del(this.#instanceRoomsKey(this.#ctx.instanceId))]),
    );
  }
}

import { EventEmitter } from 'node:events';
import type { RedkitContext } from '../context.js';
import { RedisUnavailableError } from '../errors.js';
import type { BusMessage } from './bus.js';
import type { RedisBus } from './redis-bus.js';
import {
  assertMemberId,
  assertRoom,
  decodeMeta,
  encodeMeta,
  LocalHoldings,
  sortedMembers,
  type MemberMeta,
  type Presence,
  type PresenceEventMap,
  type PresenceMember,
  type PresenceStats,
} from './presence.js';
import { RoomChannels } from './room-channels.js';
import { presenceScripts } from './scripts.js';

/** The bus channel presence events travel on (seed 004's `presence:events`). */
export const PRESENCE_CHANNEL = 'presence:events';

type PresenceWire = { type: 'joined'; room: string; member: { id: string; meta: MemberMeta } } | { type: 'left'; room: string; memberId: string };

interface RoomView {
  refs: number;
  members: Map<string, MemberMeta>;
}

/**
 * Presence over Redis. Per room (all keys under the room's hash tag): `members` (member → how
 * many instances hold it), `meta` (member → meta JSON) and one `inst:<id>` set per instance.
 * Each instance renews a heartbeat deadline in a registry; any instance reaps the rooms of an
 * instance whose deadline passed. Joins and leaves publish from inside their Lua script, so
 * events arrive in the order they happened; views are still re-read from Redis after every
 * reconnect and heartbeat, because pub/sub loses whatever was sent while disconnected.
 */
export class RedisPresence extends EventEmitter<PresenceEventMap> implements Presence {
  readonly #ctx: RedkitContext;
  readonly #ttlMs: number;
  readonly #local = new LocalHoldings();
  readonly #views = new Map<string, RoomView>();
  /** Leaves that could not reach Redis (`room\0member`); sent on recovery. */
  readonly #pendingLeaves = new Set<string>();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #debug: boolean;
  readonly #channels: RoomChannels<PresenceWire>;
  #removeResync: () => void;
  #onConnected = () => this.#scheduleRecover('connected');
  #recovering: Promise<void> | null = null;
  #recoverAgain = false;
  #beating = false;
  #closed = false;

  /** `options` as realtime.ts validated them: durations in ms. */
  constructor(
    ctx: RedkitContext,
    bus: RedisBus,
    options: { heartbeatTtlMs?: number; heartbeatIntervalMs?: number; reapIntervalMs?: number; debug?: boolean } = {},
  ) {
    super();
    this.#ctx = ctx;
    this.#debug = options.debug ?? false;
    this.#ttlMs = options.heartbeatTtlMs ?? 15_000;
    const beatMs = options.heartbeatIntervalMs ?? Math.max(50, Math.floor(this.#ttlMs / 3));
    const reapMs = options.reapIntervalMs ?? Math.max(50, Math.min(500, Math.floor(this.#ttlMs / 4)));
    this.#channels = new RoomChannels<PresenceWire>(bus, PRESENCE_CHANNEL, (m) => this.#receive(m));
    this.#removeResync = bus.onResync(() => this.#scheduleRecover('resubscribed'));
    ctx.connection.on('connected', this.#onConnected);
    const every = (ms: number, fn: () => Promise<void>) => {
      const timer = setInterval(() => {
        // No presence work while this instance holds no member and watches no room: nobody needs
        // its heartbeat (it has nothing to reap) or its reaping (it shows no room). An idle server
        // then sends nothing for presence instead of 132 commands a minute (bench/idle.ts). The
        // next join renews the heartbeat first; the instances that watch rooms reap the dead.
        if (!this.#busy()) {
          this.#beating = false;
          return;
        }
        if (this.#ctx.connection.isReady) fn().catch((err) => this.#log('warn', { err: String((err as Error)?.message ?? err) }, 'presence timer failed'));
      }, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(beatMs, () => this.#tick());
    every(reapMs, () => this.#reap());
  }

  /** True while this instance holds members, watches rooms or owes Redis a leave. */
  #busy(): boolean {
    return this.#views.size > 0 || this.#pendingLeaves.size > 0 || this.#local.rooms().length > 0;
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

  // ---- public API -------------------------------------------------------------------------

  async join(room: string, memberId: string, meta: MemberMeta = {}): Promise<void> {
    assertRoom(room);
    assertMemberId(memberId);
    const json = encodeMeta(meta);
    const copy = JSON.parse(json) as MemberMeta;
    if (!this.#local.add(room, memberId, copy, json)) return;
    this.#pendingLeaves.delete(`${room}\0${memberId}`);
    this.#log('info', { room, memberId }, 'local join');
    try {
      if ((await this.#announce(room, memberId, json)) === 1) this.#applyJoined(room, memberId, copy, this.#ctx.instanceId);
      else this.#viewSet(room, memberId, copy);
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      // Degraded: this instance's clients still see each other; recovery announces it to the rest.
      this.#applyJoined(room, memberId, copy, this.#ctx.instanceId);
    }
  }

  async leave(room: string, memberId: string): Promise<void> {
    assertRoom(room);
    assertMemberId(memberId);
    if (this.#local.remove(room, memberId) !== true) return;
    this.#log('info', { room, memberId }, 'local leave');
    try {
      const gone = await this.#withdraw(room, this.#ctx.instanceId, memberId);
      for (const id of gone) this.#applyLeft(room, id, this.#ctx.instanceId);
      await this.#forgetRoom(room, gone.length > 0);
    } catch (err) {
      if (!(err instanceof RedisUnavailableError)) throw err;
      this.#pendingLeaves.add(`${room}\0${memberId}`);
      this.#applyLeft(room, memberId, this.#ctx.instanceId);
    }
  }

  async members(room: string): Promise<PresenceMember[]> {
    assertRoom(room);
    if (!this.#ctx.connection.isReady) return this.view(room);
    try {
      const snapshot = await this.#snapshot(room);
      if (this.#views.has(room)) this.#reconcile(room, snapshot);
      return sortedMembers(snapshot);
    } catch (err) {
      if (err instanceof RedisUnavailableError) return this.view(room);
      throw err;
    }
  }

  async rooms(): Promise<string[]> {
    const fallback = () => [...new Set([...this.#local.rooms(), ...[...this.#views].filter(([, v]) => v.members.size > 0).map(([r]) => r)])].sort();
    if (!this.#ctx.connection.isReady) return fallback();
    try {
      return await this.#ctx.connection.run(async (client) => {
        const all = await client.zrangebyscore(this.#roomsKey(), Date.now(), '+inf');
        const sizes = await Promise.all(all.map((room) => client.hlen(this.#membersKey(room))));
        const empty = all.filter((_, i) => sizes[i] === 0);
        // Forget empty rooms lazily; a join racing with this re-adds its room right after.
        if (empty.length > 0) await client.zrem(this.#roomsKey(), ...empty);
        return all.filter((_, i) => sizes[i]! > 0).sort();
      });
    } catch (err) {
      if (err instanceof RedisUnavailableError) return fallback();
      throw err;
    }
  }

  async watch(room: string): Promise<() => void> {
    assertRoom(room);
    let view = this.#views.get(room);
    if (view) view.refs++;
    else {
      view = { refs: 1, members: this.#local.room(room) };
      this.#views.set(room, view);
      // Subscribed before the snapshot: an event between the two is not lost (cluster: per room).
      await this.#channels.add(room);
      if (this.#ctx.connection.isReady) {
        try {
          this.#reconcile(room, await this.#snapshot(room));
        } catch (err) {
          if (!(err instanceof RedisUnavailableError)) throw err;
        }
      }
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const v = this.#views.get(room);
      if (v && --v.refs <= 0) {
        this.#views.delete(room);
        this.#channels.remove(room);
      }
    };
  }

  view(room: string): PresenceMember[] {
    const view = this.#views.get(room);
    return sortedMembers(view ? view.members : this.#local.room(room));
  }

  stats(): PresenceStats {
    return { ...this.#local.stats(), watchedRooms: this.#views.size };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#ctx.connection.off('connected', this.#onConnected);
    this.#removeResync();
    if (this.#ctx.connection.isReady) {
      // A clean shutdown withdraws at once instead of leaving the others to wait for the heartbeat to expire.
      const rooms = new Set(this.#local.rooms());
      try {
        await Promise.all([...rooms].map((room) => this.#withdraw(room, this.#ctx.instanceId, '')));
        await this.#ctx.connection.run((client) =>
          Promise.all([client.zrem(this.#instancesKey(), this.#ctx.instanceId), client.del(this.#instanceRoomsKey(this.#ctx.instanceId))]),
        );
      } catch (err) {
        this.#log('warn', { err: String((err as Error)?.message ?? err) }, 'could not withdraw members on close; they expire with the heartbeat');
      }
    }
    await this.#channels.close();
    this.#local.clear();
    this.#views.clear();
    this.removeAllListeners();
  }

  // ---- Redis operations -------------------------------------------------------------------

  async #announce(room: string, memberId: string, metaJson: string): Promise<number> {
    if (!this.#beating) await this.#heartbeat();
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
          this.#channels.channel(room),
          this.#ctx.instanceId,
          room,
          Date.now(),
          this.#channels.publishCommand,
        ]),
      ]);
      return Number(result);
    });
  }

  /** Withdraws `memberId` ('' for all) held by `instanceId` in `room`; returns the ids that left the room. */
  #withdraw(room: string, instanceId: string, memberId: string): Promise<string[]> {
    return this.#ctx.connection.run(async (client) => {
      const result = await presenceScripts.leave(client, [
        this.#membersKey(room),
        this.#metaKey(room),
        this.#instKey(room, instanceId),
        this.#channels.channel(room),
        this.#ctx.instanceId,
        room,
        Date.now(),
        memberId,
        this.#channels.publishCommand,
      ]);
      return (result as string[]) ?? [];
    });
  }

  /**
   * After a leave: drops the room from this instance's rooms when it holds nobody there any more,
   * and from the active rooms when the room emptied. A join racing with this (here or elsewhere)
   * is put back by its holder's next heartbeat at the latest.
   */
  async #forgetRoom(room: string, someoneLeft: boolean): Promise<void> {
    if (this.#local.rooms().includes(room)) return;
    await this.#ctx.connection.run(async (client) => {
      const [, size] = await Promise.all([
        client.srem(this.#instanceRoomsKey(this.#ctx.instanceId), room),
        someoneLeft ? client.hlen(this.#membersKey(room)) : Promise.resolve(1),
      ]);
      if (size === 0) await client.zrem(this.#roomsKey(), room);
    });
  }

  async #snapshot(room: string): Promise<Map<string, MemberMeta>> {
    const raw = await this.#ctx.connection.run((client) => client.hgetall(this.#metaKey(room)));
    return new Map(Object.entries(raw).map(([id, json]) => [id, decodeMeta(json)]));
  }

  /** Renews the heartbeat; returns Redis's answer (1 alive, 0 had expired, -1 unknown). */
  async #heartbeat(): Promise<number> {
    const result = await this.#ctx.connection.run((client) => presenceScripts.heartbeat(client, [this.#instancesKey(), this.#ctx.instanceId, this.#ttlMs]));
    this.#beating = true;
    return Number(result);
  }

  async #tick(): Promise<void> {
    const state = await this.#heartbeat();
    await this.#renewRooms();
    // Expired (we were stalled or partitioned, and may have been reaped) or forgotten (Redis restarted empty).
    if (state !== 1 && [...this.#local.entries()].length > 0) return this.#scheduleRecover(state === 0 ? 'heartbeat expired' : 'heartbeat unknown');
    for (const room of this.#views.keys()) this.#reconcile(room, await this.#snapshot(room));
  }

  /** Renews this instance's rooms in the active-rooms zset and its own rooms set; drops expired rooms. */
  async #renewRooms(): Promise<void> {
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

  async #reap(): Promise<void> {
    const dead = (await this.#ctx.connection.run((client) => presenceScripts.expired(client, [this.#instancesKey(), '']))) as string[];
    for (const instanceId of dead) {
      if (instanceId === this.#ctx.instanceId) {
        this.#scheduleRecover('own heartbeat expired');
        continue;
      }
      const rooms = await this.#ctx.connection.run((client) => client.smembers(this.#instanceRoomsKey(instanceId)));
      let left = 0;
      for (const room of rooms) {
        for (const id of await this.#withdraw(room, instanceId, '')) {
          left++;
          this.#applyLeft(room, id, this.#ctx.instanceId);
        }
      }
      const forgot = Number(await this.#ctx.connection.run((client) => presenceScripts.expired(client, [this.#instancesKey(), instanceId])));
      if (forgot === 1) await this.#ctx.connection.run((client) => client.del(this.#instanceRoomsKey(instanceId)));
      this.#log('info', { deadInstance: instanceId, rooms: rooms.length, membersLeft: left }, 'reaped an instance whose heartbeat expired');
    }
  }

  #scheduleRecover(reason: string): void {
    if (this.#closed) return;
    if (this.#recovering) {
      this.#recoverAgain = true;
      return;
    }
    this.#log('info', { reason }, 'resyncing presence from Redis');
    this.#recovering = this.#recover()
      .catch((err) => this.#log('warn', { err: String((err as Error)?.message ?? err) }, 'presence resync failed; the next heartbeat retries'))
      .finally(() => {
        this.#recovering = null;
        if (this.#recoverAgain) {
          this.#recoverAgain = false;
          this.#scheduleRecover('again');
        }
      });
  }

  /** After a reconnect: renew the heartbeat, send pending leaves, re-announce every local member, re-read every watched room. */
  async #recover(): Promise<void> {
    if (!this.#ctx.connection.isReady) return;
    await this.#heartbeat();
    for (const key of [...this.#pendingLeaves]) {
      const [room, id] = key.split('\0') as [string, string];
      this.#pendingLeaves.delete(key);
      if (!this.#local.has(room, id)) await this.#forgetRoom(room, (await this.#withdraw(room, this.#ctx.instanceId, id)).length > 0);
    }
    await Promise.all(
      [...this.#local.entries()].map(async ({ room, id, metaJson }) => {
        await this.#announce(room, id, metaJson);
      }),
    );
    for (const room of this.#views.keys()) this.#reconcile(room, await this.#snapshot(room));
  }

  // ---- views and events -------------------------------------------------------------------

  #receive(message: BusMessage<PresenceWire>): void {
    const data = message.data;
    if (!data || typeof data !== 'object' || typeof data.room !== 'string') return;
    if (data.type === 'joined' && data.member && typeof data.member.id === 'string') {
      this.#applyJoined(data.room, data.member.id, data.member.meta ?? {}, message.from);
    } else if (data.type === 'left' && typeof data.memberId === 'string') {
      if (this.#local.has(data.room, data.memberId)) {
        // Redis says nobody holds a member we hold: our entry was lost (reaped while stalled); re-announce it.
        this.#scheduleRecover('lost a local member');
        return;
      }
      this.#applyLeft(data.room, data.memberId, message.from);
    }
  }

  /** Without a view of the room every join is reported: Redis (or, degraded, our first connection) says the member is new. */
  #applyJoined(room: string, id: string, meta: MemberMeta, from: string): void {
    const view = this.#views.get(room);
    const known = view?.members.has(id) ?? false;
    view?.members.set(id, meta);
    if (!known) {
      this.#log('info', { room, memberId: id, from }, 'joined');
      this.emit('joined', { room, member: { id, meta }, from });
    }
  }

  #applyLeft(room: string, id: string, from: string): void {
    const view = this.#views.get(room);
    if (view && !view.members.delete(id)) return;
    this.#log('info', { room, memberId: id, from }, 'left');
    this.emit('left', { room, memberId: id, from });
  }

  #viewSet(room: string, id: string, meta: MemberMeta): void {
    this.#views.get(room)?.members.set(id, meta);
  }

  /** Makes a view equal to a fresh snapshot (plus our own members), emitting the differences. */
  #reconcile(room: string, snapshot: Map<string, MemberMeta>): void {
    const view = this.#views.get(room);
    if (!view) return;
    let lost = false;
    for (const [id, meta] of this.#local.room(room)) {
      if (!snapshot.has(id)) {
        lost = true;
        snapshot.set(id, meta);
      }
    }
    if (lost) this.#scheduleRecover('local members missing from Redis');
    for (const [id, meta] of snapshot) {
      if (!view.members.has(id)) {
        view.members.set(id, meta);
        this.emit('joined', { room, member: { id, meta }, from: 'resync' });
      } else view.members.set(id, meta);
    }
    for (const id of [...view.members.keys()]) {
      if (!snapshot.has(id)) {
        view.members.delete(id);
        this.emit('left', { room, memberId: id, from: 'resync' });
      }
    }
  }

  #log(level: 'info' | 'warn', obj: object, msg: string): void {
    if (level === 'info' && !this.#debug) return;
    this.#ctx.logger[level]({ instanceId: this.#ctx.instanceId, ...obj }, `[presence] ${msg}`);
  }
}

import { EventEmitter } from 'node:events';
import type { RedkitContext } from '../context.js';
import { RedisUnavailableError } from '../errors.js';
import type { BusMessage } from './bus.js';
import type { RedisBus } from './redis-bus.js';
import { PRESENCE_CHANNEL, PresenceRegistry } from './presence-registry.js';
import {
  assertMemberId,
  assertRoom,
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

export { PRESENCE_CHANNEL } from './presence-registry.js';

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
  readonly #local = new LocalHoldings();
  /** The Redis side: keys, scripts, heartbeat and reaping. */
  readonly #redis: PresenceRegistry;
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
    const ttlMs = options.heartbeatTtlMs ?? 15_000;
    this.#redis = new PresenceRegistry(ctx, bus, ttlMs, this.#local);
    const beatMs = options.heartbeatIntervalMs ?? Math.max(50, Math.floor(ttlMs / 3));
    const reapMs = options.reapIntervalMs ?? Math.max(50, Math.min(500, Math.floor(ttlMs / 4)));
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
          this.#redis.beating = false;
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
      if ((await this.#redis.announce(room, memberId, json)) === 1) this.#applyJoined(room, memberId, copy, this.#ctx.instanceId);
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
      const gone = await this.#redis.withdraw(room, this.#ctx.instanceId, memberId);
      for (const id of gone) this.#applyLeft(room, id, this.#ctx.instanceId);
      await this.#redis.forgetRoom(room, gone.length > 0);
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
      const snapshot = await this.#redis.snapshot(room);
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
      return await this.#redis.activeRooms();
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
          this.#reconcile(room, await this.#redis.snapshot(room));
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
      try {
        await this.#redis.withdrawAll();
      } catch (err) {
        this.#log('warn', { err: String((err as Error)?.message ?? err) }, 'could not withdraw members on close; they expire with the heartbeat');
      }
    }
    await this.#channels.close();
    this.#local.clear();
    this.#views.clear();
    this.removeAllListeners();
  }

  async #tick(): Promise<void> {
    const state = await this.#redis.heartbeat();
    await this.#redis.renewRooms();
    // Expired (we were stalled or partitioned, and may have been reaped) or forgotten (Redis restarted empty).
    if (state !== 1 && [...this.#local.entries()].length > 0) return this.#scheduleRecover(state === 0 ? 'heartbeat expired' : 'heartbeat unknown');
    for (const room of this.#views.keys()) this.#reconcile(room, await this.#redis.snapshot(room));
  }

  async #reap(): Promise<void> {
    for (const instanceId of await this.#redis.deadInstances()) {
      if (instanceId === this.#ctx.instanceId) {
        this.#scheduleRecover('own heartbeat expired');
        continue;
      }
      const { rooms, left } = await this.#redis.reap(instanceId, (room, id) => this.#applyLeft(room, id, this.#ctx.instanceId));
      this.#log('info', { deadInstance: instanceId, rooms, membersLeft: left }, 'reaped an instance whose heartbeat expired');
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
    await this.#redis.heartbeat();
    for (const key of [...this.#pendingLeaves]) {
      const [room, id] = key.split('\0') as [string, string];
      this.#pendingLeaves.delete(key);
      if (!this.#local.has(room, id)) await this.#redis.forgetRoom(room, (await this.#redis.withdraw(room, this.#ctx.instanceId, id)).length > 0);
    }
    await Promise.all(
      [...this.#local.entries()].map(async ({ room, id, metaJson }) => {
        await this.#redis.announce(room, id, metaJson);
      }),
    );
    for (const room of this.#views.keys()) this.#reconcile(room, await this.#redis.snapshot(room));
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

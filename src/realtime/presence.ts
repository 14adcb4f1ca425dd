import type { Duration } from '../duration.js';
import type { EventEmitter } from 'node:events';
import { InvalidArgumentError } from '../errors.js';
import { assertName } from '../keys.js';

/** What is known about a member besides its id (e.g. a display name): flat JSON, at most 1 KB. */
export type MemberMeta = Record<string, string | number | boolean | null>;

/** One member of a room, counted once however many connections and instances hold it. */
export interface PresenceMember {
  id: string;
  meta: MemberMeta;
}

/** `joined`: a member appeared in a room (on any instance). */
export interface PresenceJoinedEvent {
  room: string;
  member: PresenceMember;
  /** Instance that caused it. */
  from: string;
}

/** `left`: a member's last connection left, or its instance died. */
export interface PresenceLeftEvent {
  room: string;
  memberId: string;
  from: string;
}

/** Events of a Presence. */
export interface PresenceEventMap {
  joined: [PresenceJoinedEvent];
  left: [PresenceLeftEvent];
}

/** Options of presence over Redis. */
export interface PresenceOptions {
  /**
   * How long an instance's heartbeat lasts: the members of an instance that died vanish from
   * every other instance within this (plus at most `reapIntervalMs`). Ms or a duration string (`'15s'`). Default 15000.
   */
  heartbeatTtlMs?: Duration;
  /** How often the heartbeat is renewed (and each watched room re-read), ms or a duration string. Default `heartbeatTtlMs / 3`. */
  heartbeatIntervalMs?: Duration;
  /**
   * How often expired instances are looked for (one script call), ms or a duration string. Default `min(500, heartbeatTtlMs / 4)`.
   * Heartbeat and reaping run only while the instance holds members or watches rooms.
   */
  reapIntervalMs?: Duration;
}

/** A counter snapshot of the presence on this instance, for `?debug=1` pages and logs. */
export interface PresenceStats {
  /** Rooms with at least one local connection. */
  localRooms: number;
  /** Local (room, member) pairs. */
  localMembers: number;
  /** Local connections (joins not yet left). */
  localConnections: number;
  /** Rooms whose live view this instance keeps. */
  watchedRooms: number;
}

/**
 * Who is in which room, across instances. `join`/`leave` are per connection: a member with
 * several connections, on one or several instances, counts once and leaves with its last one.
 */
export interface Presence extends EventEmitter<PresenceEventMap> {
  /** Adds one connection of `memberId` to `room`; `meta` replaces the member's meta. */
  join(room: string, memberId: string, meta?: MemberMeta): Promise<void>;
  /** Removes one connection of `memberId` from `room` (no-op when it held none here). */
  leave(room: string, memberId: string): Promise<void>;
  /** The room's members, read from Redis when it is up; this instance's view otherwise. */
  members(room: string): Promise<PresenceMember[]>;
  /** Rooms that have members. */
  rooms(): Promise<string[]>;
  /**
   * Keeps a live view of `room` on this instance (snapshot now, then events, re-read after
   * every reconnect and heartbeat). Resolves with the function that stops watching.
   */
  watch(room: string): Promise<() => void>;
  /** The current view of a watched room (this instance's connections only for an unwatched one), sorted by id. */
  view(room: string): PresenceMember[];
  /** Counters for debugging. */
  stats(): PresenceStats;
  /** Stops timers; withdraws this instance's members when Redis is up. */
  close(): Promise<void>;
}

/** Validates a room name: it sits inside a `{…}` hash tag, so braces are refused. */
export function assertRoom(room: unknown): asserts room is string {
  assertName(room, 'room');
  if (room.length > 200 || /[{}]/.test(room)) throw new InvalidArgumentError('room', 'room must be at most 200 characters and contain no "{" or "}"');
}

/** Validates a member id. */
export function assertMemberId(id: unknown): asserts id is string {
  assertName(id, 'memberId');
  if (id.length > 200) throw new InvalidArgumentError('memberId', 'memberId must be at most 200 characters');
}

/** Validates meta and returns its JSON (flat, at most 16 fields, at most 1024 bytes). */
export function encodeMeta(meta: unknown): string {
  if (meta === undefined) return '{}';
  if (!meta || typeof meta !== 'object' || Array.isArray(meta))
    throw new InvalidArgumentError('meta', 'meta must be a plain object of strings, numbers, booleans or null');
  const entries = Object.entries(meta);
  if (entries.length > 16) throw new InvalidArgumentError('meta', 'meta may have at most 16 fields');
  for (const [, value] of entries) {
    const t = typeof value;
    if (value !== null && t !== 'string' && t !== 'boolean' && !(t === 'number' && Number.isFinite(value))) {
      throw new InvalidArgumentError('meta', 'meta values must be strings, finite numbers, booleans or null');
    }
  }
  const json = JSON.stringify(meta);
  if (Buffer.byteLength(json) > 1024) throw new InvalidArgumentError('meta', 'meta must serialise to at most 1024 bytes of JSON');
  return json;
}

/** Parses stored meta, tolerating damage (a foreign writer) as `{}`. */
export function decodeMeta(json: string | undefined): MemberMeta {
  if (!json) return {};
  try {
    const value = JSON.parse(json) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as MemberMeta) : {};
  } catch {
    return {};
  }
}

/** Sorted member list from a map. */
export function sortedMembers(map: Map<string, MemberMeta>): PresenceMember[] {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, meta]) => ({ id, meta }));
}

/** This instance's connections per (room, member): the part of presence only this process knows. */
export class LocalHoldings {
  readonly #rooms = new Map<string, Map<string, { meta: MemberMeta; metaJson: string; count: number }>>();

  /** Counts a connection; true when it is the member's first on this instance. */
  add(room: string, id: string, meta: MemberMeta, metaJson: string): boolean {
    let members = this.#rooms.get(room);
    if (!members) this.#rooms.set(room, (members = new Map()));
    const entry = members.get(id);
    if (entry) {
      entry.count++;
      entry.meta = meta;
      entry.metaJson = metaJson;
      return false;
    }
    members.set(id, { meta, metaJson, count: 1 });
    return true;
  }

  /** Uncounts a connection; true when it was the member's last on this instance, null when it held none. */
  remove(room: string, id: string): boolean | null {
    const members = this.#rooms.get(room);
    const entry = members?.get(id);
    if (!members || !entry) return null;
    if (--entry.count > 0) return false;
    members.delete(id);
    if (members.size === 0) this.#rooms.delete(room);
    return true;
  }

  has(room: string, id: string): boolean {
    return this.#rooms.get(room)?.has(id) ?? false;
  }

  /** The local members of a room as a map id → meta. */
  room(room: string): Map<string, MemberMeta> {
    return new Map([...(this.#rooms.get(room) ?? [])].map(([id, e]) => [id, e.meta]));
  }

  rooms(): string[] {
    return [...this.#rooms.keys()];
  }

  /** Every (room, member, meta JSON) held here. */
  *entries(): Generator<{ room: string; id: string; metaJson: string; meta: MemberMeta }> {
    for (const [room, members] of this.#rooms) for (const [id, e] of members) yield { room, id, metaJson: e.metaJson, meta: e.meta };
  }

  stats(): { localRooms: number; localMembers: number; localConnections: number } {
    let localMembers = 0;
    let localConnections = 0;
    for (const members of this.#rooms.values()) {
      localMembers += members.size;
      for (const e of members.values()) localConnections += e.count;
    }
    return { localRooms: this.#rooms.size, localMembers, localConnections };
  }

  clear(): void {
    this.#rooms.clear();
  }
}

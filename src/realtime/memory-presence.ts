import { EventEmitter } from 'node:events';
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

/** Standalone presence: this process is the only instance, so its connections are the truth. */
export class MemoryPresence extends EventEmitter<PresenceEventMap> implements Presence {
  readonly #instanceId: string;
  readonly #local = new LocalHoldings();
  readonly #watched = new Map<string, number>();

  constructor(instanceId: string) {
    super();
    this.#instanceId = instanceId;
  }

  async join(room: string, memberId: string, meta: MemberMeta = {}): Promise<void> {
    assertRoom(room);
    assertMemberId(memberId);
    const json = encodeMeta(meta);
    const copy = JSON.parse(json) as MemberMeta;
    if (this.#local.add(room, memberId, copy, json)) this.emit('joined', { room, member: { id: memberId, meta: copy }, from: this.#instanceId });
  }

  async leave(room: string, memberId: string): Promise<void> {
    assertRoom(room);
    assertMemberId(memberId);
    if (this.#local.remove(room, memberId) === true) this.emit('left', { room, memberId, from: this.#instanceId });
  }

  async members(room: string): Promise<PresenceMember[]> {
    assertRoom(room);
    return this.view(room);
  }

  async rooms(): Promise<string[]> {
    return this.#local.rooms().sort();
  }

  async watch(room: string): Promise<() => void> {
    assertRoom(room);
    this.#watched.set(room, (this.#watched.get(room) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.#watched.get(room) ?? 1) - 1;
      if (n <= 0) this.#watched.delete(room);
      else this.#watched.set(room, n);
    };
  }

  view(room: string): PresenceMember[] {
    return sortedMembers(this.#local.room(room));
  }

  stats(): PresenceStats {
    return { ...this.#local.stats(), watchedRooms: this.#watched.size };
  }

  async close(): Promise<void> {
    this.#local.clear();
    this.#watched.clear();
    this.removeAllListeners();
  }
}

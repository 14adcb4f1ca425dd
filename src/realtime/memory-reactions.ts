import { EventEmitter } from 'node:events';
import { assertMemberId, assertRoom } from './presence.js';
import { assertReaction, MAX_REACTIONS_PER_ROOM, tooManyReactions, type ReactionCounts, type Reactions, type ReactionsEventMap } from './reactions.js';

/** Standalone reactions: counts in this process. */
export class MemoryReactions extends EventEmitter<ReactionsEventMap> implements Reactions {
  readonly #instanceId: string;
  readonly #rooms = new Map<string, Map<string, number>>();

  constructor(instanceId: string) {
    super();
    this.#instanceId = instanceId;
  }

  async react(room: string, reaction: string, by = ''): Promise<number> {
    assertRoom(room);
    assertReaction(reaction);
    if (by !== '') assertMemberId(by);
    let counts = this.#rooms.get(room);
    if (!counts) this.#rooms.set(room, (counts = new Map()));
    if (!counts.has(reaction) && counts.size >= MAX_REACTIONS_PER_ROOM) throw tooManyReactions(room);
    const count = (counts.get(reaction) ?? 0) + 1;
    counts.set(reaction, count);
    this.emit('reaction', { room, reaction, count, by, from: this.#instanceId });
    return count;
  }

  async counts(room: string): Promise<ReactionCounts> {
    assertRoom(room);
    return this.view(room);
  }

  async watch(room: string): Promise<() => void> {
    assertRoom(room);
    return () => {};
  }

  view(room: string): ReactionCounts {
    return Object.fromEntries(this.#rooms.get(room) ?? []);
  }

  async close(): Promise<void> {
    this.#rooms.clear();
    this.removeAllListeners();
  }
}

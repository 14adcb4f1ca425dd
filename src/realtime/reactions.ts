import type { EventEmitter } from 'node:events';
import { InvalidArgumentError } from '../errors.js';

/** A room's reaction counts: reaction → count. */
export type ReactionCounts = Record<string, number>;

/** `reaction`: a count changed (on any instance). */
export interface ReactionEvent {
  room: string;
  reaction: string;
  count: number;
  /** Member id that reacted, or '' when unknown. */
  by: string;
  from: string;
}

/** `counts`: a watched room's counts were re-read after a reconnect (messages may have been lost). */
export interface ReactionCountsEvent {
  room: string;
  counts: ReactionCounts;
}

/** Events of Reactions. */
export interface ReactionsEventMap {
  reaction: [ReactionEvent];
  counts: [ReactionCountsEvent];
}

/**
 * How long a room's counts live in Redis without a reaction and without any instance watching
 * the room (i.e. nobody in it): 1 hour. Set with `realtime.configure({ reactionsIdleTtlMs })`.
 */
export const DEFAULT_REACTIONS_IDLE_TTL_MS = 3_600_000;

/** Most distinct reactions one room may hold (bounds memory against clients inventing reactions). */
export const MAX_REACTIONS_PER_ROOM = 64;

/** Per-room reaction counters, kept in Redis and broadcast to every instance. */
export interface Reactions extends EventEmitter<ReactionsEventMap> {
  /**
   * Adds one `reaction` in `room`; resolves to the new count. Degraded: counted locally and added
   * to Redis when it is back.
   * @throws InvalidArgumentError for a bad reaction, or when the room already has MAX_REACTIONS_PER_ROOM kinds.
   */
  react(room: string, reaction: string, by?: string): Promise<number>;
  /** The room's counts, from Redis when it is up; this instance's view otherwise. */
  counts(room: string): Promise<ReactionCounts>;
  /** Keeps a live view of the room's counts; resolves with the function that stops it. */
  watch(room: string): Promise<() => void>;
  /** The current counts of a watched room. */
  view(room: string): ReactionCounts;
  /** Stops timers and listeners. */
  close(): Promise<void>;
}

/** A reaction is 1–32 characters (an emoji or a short word) without control characters. */
export function assertReaction(reaction: unknown): asserts reaction is string {
  if (typeof reaction !== 'string' || reaction.length === 0 || reaction.length > 32 || /[\u0000-\u001f]/.test(reaction)) {
    throw new InvalidArgumentError('reaction', 'reaction must be 1-32 characters without control characters (e.g. "👍")');
  }
}

/** The error for a room that already has every reaction kind it may hold. */
export function tooManyReactions(room: string): InvalidArgumentError {
  return new InvalidArgumentError('reaction', `room "${room}" already has ${MAX_REACTIONS_PER_ROOM} distinct reactions; reuse one of them`);
}

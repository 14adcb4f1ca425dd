import type { Redis } from 'ioredis';
import type { ClassifiedError } from './classify.js';

/** Default bound on how long the oldest outstanding command may wait before Redis counts as stalled. */
export const DEFAULT_STALL_MS = 750;

/** The stall threshold for a command timeout: `min(commandTimeoutMs, 750)` unless set. */
export function stallThresholdMs(commandTimeoutMs: number, stallMs?: number): number {
  return Math.max(1, Math.min(commandTimeoutMs, stallMs ?? DEFAULT_STALL_MS));
}

/** The connection's last error for a stall: reason `TIMEOUT`, with what happened and what to change. */
export function stallError(target: string, waitedMs: number, stallMs: number): ClassifiedError & { at: string } {
  return {
    reason: 'TIMEOUT',
    message: `Redis at ${target} has not answered for ${waitedMs} ms (stalled: paused, overloaded or unreachable)`,
    hint: `redkit fails fast until Redis answers a PING again; if a legitimate command runs longer than ${stallMs} ms, raise the stall threshold (stallMs) or REDIS_COMMAND_TIMEOUT_MS`,
    at: new Date().toISOString(),
  };
}

/** What ioredis keeps per command written and not yet answered (internal; stable since v4). */
interface QueuedCommand {
  command: { name?: string; args?: unknown[]; isSettled?: boolean; reject?: (err: Error) => void };
}

/** Commands that wait in Redis by design: one of them at the head is not a stall. */
const BLOCKING = new Set(['blpop', 'brpop', 'brpoplpush', 'blmove', 'blmpop', 'bzpopmin', 'bzpopmax', 'bzmpop', 'wait', 'waitaof']);

function waitsByDesign(command: QueuedCommand['command']): boolean {
  const name = command.name?.toLowerCase() ?? '';
  if (BLOCKING.has(name)) return true;
  return (name === 'xread' || name === 'xreadgroup') && (command.args ?? []).some((a) => String(a).toUpperCase() === 'BLOCK');
}
interface CommandQueue {
  length: number;
  peekFront(): QueuedCommand | undefined;
  toArray(): QueuedCommand[];
}

/**
 * Notices a stalled Redis (SIGSTOP, GC pause, network black hole: the TCP connection stays
 * open and nothing answers) long before the command timeout would.
 *
 * Why this shape: Redis answers a connection's commands in order, so while the command at the
 * head of ioredis's reply queue stays the same, nothing was answered. A timer looks at the head
 * every `tickMs`; a head seen for `stallMs` means no reply for at least that long. It costs one
 * timer and nothing per command (no hook on the hot path). A busy Redis still answers, so the
 * head moves and a heavy load does not count as a stall; a single command slower than `stallMs`
 * (a huge KEYS, a slow script) does.
 */
export class StallWatchdog {
  readonly stallMs: number;
  readonly tickMs: number;
  #timer: NodeJS.Timeout | null = null;
  #head: unknown = undefined;
  #headSeenAt = 0;
  #stalled = false;
  #confirming = false;

  /**
   * @param client the shared command client to watch.
   * @param stallMs how long the head command may wait.
   * @param onStall called once per stall with how long the head had waited (ms).
   * @param whileStalled called on every tick while the stall lasts (the owner probes from it).
   */
  constructor(
    private readonly client: Redis,
    stallMs: number,
    private readonly onStall: (waitedMs: number) => void,
    private readonly whileStalled: () => void,
  ) {
    this.stallMs = stallMs;
    // A stall is seen within stallMs + tickMs of the first unanswered command.
    this.tickMs = Math.max(20, Math.min(100, Math.round(stallMs / 5)));
  }

  /** True between a detected stall and `clear()`. */
  get stalled(): boolean {
    return this.#stalled;
  }

  /** Starts watching (unref'd timer: never keeps the process alive). */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#tick(), this.tickMs);
    this.#timer.unref();
  }

  /** Stops watching. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Redis answered again (or the connection was replaced): the stall is over. */
  clear(): void {
    this.#stalled = false;
    this.#head = undefined;
  }

  /**
   * Rejects every command still waiting for a reply with `error`. They stay in ioredis's queue
   * (their replies, if they come, must still be matched in order): this is what ioredis's own
   * commandTimeout does to one command, done to all of them at once.
   */
  rejectOutstanding(error: Error): number {
    const queue = (this.client as unknown as { commandQueue?: CommandQueue }).commandQueue;
    if (!queue) return 0;
    let rejected = 0;
    for (const item of queue.toArray()) {
      const command = item.command;
      if (command && !command.isSettled && typeof command.reject === 'function') {
        command.reject(error);
        rejected++;
      }
    }
    return rejected;
  }

  #tick(): void {
    const client = this.client;
    if (client.status !== 'ready') {
      this.#head = undefined;
      return;
    }
    if (this.#stalled) {
      this.whileStalled();
      return;
    }
    const queue = (client as unknown as { commandQueue?: CommandQueue }).commandQueue;
    const head = queue && queue.length > 0 ? queue.peekFront()?.command : undefined;
    const now = performance.now();
    if (head !== this.#head) {
      this.#head = head;
      this.#headSeenAt = now;
      return;
    }
    if (head !== undefined && now - this.#headSeenAt >= this.stallMs && !this.#confirming && !waitsByDesign(head)) {
      // Timers run before the event loop reads sockets: after this process itself was busy or
      // paused, the reply may be waiting unread. Judge after the next poll phase has read it.
      this.#confirming = true;
      setImmediate(() => {
        this.#confirming = false;
        const still = queue && queue.length > 0 ? queue.peekFront()?.command : undefined;
        if (this.#stalled || still !== head || client.status !== 'ready') return;
        this.#stalled = true;
        this.onStall(Math.round(performance.now() - this.#headSeenAt));
      });
    }
  }
}

import { CronExpressionParser } from 'cron-parser';
import { InvalidArgumentError } from '../errors.js';
import type { SchedulerInfo, SchedulerOptions, SchedulerTemplate } from './types.js';

/** Longest single timer: Node clamps larger delays to 1 ms, so far runs are reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Epoch ms of the next run after `from`. @throws InvalidArgumentError for a bad cron pattern */
export function nextRun(opts: SchedulerOptions, from: number): number {
  if (opts.every !== undefined) return from + opts.every;
  try {
    // cron-parser is the parser BullMQ uses for `pattern`: the same patterns mean the same times.
    return CronExpressionParser.parse(opts.pattern!, { currentDate: new Date(from), ...(opts.tz ? { tz: opts.tz } : {}) })
      .next()
      .getTime();
  } catch (err) {
    throw new InvalidArgumentError('scheduler.pattern', `invalid cron pattern ${JSON.stringify(opts.pattern)}: ${(err as Error).message}`);
  }
}

interface Entry {
  opts: SchedulerOptions;
  template: SchedulerTemplate;
  next: number;
  timer: NodeJS.Timeout | null;
}

/**
 * Job schedulers of one in-process queue (standalone mode): each schedule adds its job through
 * `fire` when due. Timers are unref'd (a schedule alone does not keep the process alive) and
 * end with `close()`. A run missed while the event loop was blocked is run once, not caught up.
 */
export class MemoryScheduler {
  readonly #entries = new Map<string, Entry>();
  readonly #fire: (template: SchedulerTemplate) => void;

  constructor(fire: (template: SchedulerTemplate) => void) {
    this.#fire = fire;
  }

  /** Creates or replaces scheduler `id`; the next run is computed from now. */
  upsert(id: string, opts: SchedulerOptions, template: SchedulerTemplate): void {
    const next = nextRun(opts, Date.now());
    this.remove(id);
    const entry: Entry = { opts, template, next, timer: null };
    this.#entries.set(id, entry);
    this.#arm(entry);
  }

  remove(id: string): boolean {
    const entry = this.#entries.get(id);
    if (!entry) return false;
    if (entry.timer) clearTimeout(entry.timer);
    this.#entries.delete(id);
    return true;
  }

  list(): SchedulerInfo[] {
    return [...this.#entries].map(([id, e]) => ({
      id,
      every: e.opts.every ?? null,
      pattern: e.opts.pattern ?? null,
      tz: e.opts.tz ?? null,
      name: e.template.name,
      next: e.next,
    }));
  }

  close(): void {
    for (const id of [...this.#entries.keys()]) this.remove(id);
  }

  #arm(entry: Entry): void {
    const wait = Math.max(0, entry.next - Date.now());
    entry.timer = setTimeout(
      () => {
        if (Date.now() < entry.next) return this.#arm(entry);
        entry.next = nextRun(entry.opts, Math.max(Date.now(), entry.next));
        this.#arm(entry);
        this.#fire(entry.template);
      },
      Math.min(wait, MAX_TIMER_MS),
    );
    entry.timer.unref();
  }
}

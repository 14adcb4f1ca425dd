import { EventEmitter } from 'node:events';
import type { RedkitContext } from '../context.js';
import { InvalidArgumentError, LockBusyError } from '../errors.js';
import { toMs, type Duration } from '../duration.js';
import { assertName } from '../keys.js';
import { assertOptions } from '../options.js';
import type { LockRef } from '../lock/backend.js';
import { leaderMetrics } from '../metrics/instruments.js';
import type { Lock, LockManager } from '../lock/lock.js';

/** Default leadership lease (ms). */
export const DEFAULT_LEADER_TTL_MS = 10_000;
/** How long one queued campaign waits before it queues again (ms): bounds a stale queue entry. */
const CAMPAIGN_WAIT_MS = 30_000;

/** Options of `campaign` / `runWhileLeader`. */
export interface CampaignOptions {
  /** Leadership lease: ms or a duration string (`'10s'`), renewed every ttl/3; a dead leader is replaced within it. Default 10 000. */
  ttl?: Duration;
}

/** Who leads a role now. */
export interface LeaderInfo {
  instanceId: string;
  /** The fencing number of that leadership: it increases with every new leadership. */
  epoch: number;
}

/** Events of an Election. */
export interface ElectionEvents {
  /** This instance became leader; `epoch` is its fencing number. */
  elected: [epoch: number];
  /**
   * This instance stopped leading: `resigned` is true for an orderly `resign()` / `kit.close()`
   * (logged at debug), false when the lease was lost (logged as a WARN).
   */
  revoked: [reason: string, resigned: boolean];
  /** The lease was renewed; `validUntil` is the new local time (ms) until which this instance leads. */
  renewed: [validUntil: number];
}

/**
 * One instance's candidacy for a role. It queues for the role's lease, renews it every ttl/3
 * while leading, gives it up locally before it could expire elsewhere, and campaigns again
 * after losing it until `resign()`.
 */
export class Election extends EventEmitter<ElectionEvents> {
  readonly role: string;
  readonly ttlMs: number;
  readonly #locks: LockManager;
  readonly #ctx: RedkitContext;
  readonly #ref: LockRef;
  readonly #stop = new AbortController();
  #lock: Lock | null = null;
  #epoch: number | null = null;
  #loop: Promise<void>;

  /** Use `kit.leader.campaign(role)`. */
  constructor(ctx: RedkitContext, locks: LockManager, role: string, ttlMs: number) {
    super();
    this.#ctx = ctx;
    this.#locks = locks;
    this.role = role;
    this.ttlMs = ttlMs;
    this.#ref = { kind: 'leader', name: role, limit: 1 };
    this.#loop = this.#campaign();
  }

  /**
   * True while this instance leads, by the local clock with the drift margin: reading it after
   * a pause longer than the lease emits `revoked` first and returns false. Check it (or pass
   * `epoch` to the resource) right before each side effect of leader work.
   */
  get isLeader(): boolean {
    return this.#lock?.held ?? false;
  }

  /** Local time (ms since epoch, drift margin applied) until which this leadership holds without a renewal; null when not leading. */
  get validUntil(): number | null {
    return this.isLeader ? this.#lock!.expiresAt : null;
  }

  /** The fencing number of the current leadership, or null when not leading. */
  get epoch(): number | null {
    return this.isLeader ? this.#epoch : null;
  }

  /** Stops campaigning; when leading, releases the lease so another instance takes over at once. */
  async resign(): Promise<void> {
    if (!this.#stop.signal.aborted) this.#stop.abort();
    const lock = this.#lock;
    if (lock) await lock.release().catch(() => false);
    await this.#loop;
  }

  async #campaign(): Promise<void> {
    const stopped = this.#stop.signal;
    while (!stopped.aborted) {
      let lock: Lock;
      try {
        lock = await this.#locks.acquireRef(this.#ref, { ttl: this.ttlMs, wait: CAMPAIGN_WAIT_MS, signal: stopped, tokenPrefix: `${this.#ctx.instanceId}|` });
      } catch (err) {
        if (stopped.aborted) break;
        if (err instanceof LockBusyError && err.reason === 'busy') continue;
        // Redis away (or the restart guard): try again soon; the acquire fails fast meanwhile.
        this.#ctx.logger.debug({ role: this.role, err: String((err as Error)?.message ?? err) }, '[redkit] leader campaign retrying');
        await sleep(Math.min(Math.max(50, Math.floor(this.ttlMs / 3)), 1000), stopped);
        continue;
      }
      if (stopped.aborted) {
        await lock.release().catch(() => false);
        break;
      }
      await this.#lead(lock);
    }
  }

  // Resolves when the lease is lost; 'revoked' is emitted synchronously from the lock's abort.
  #lead(lock: Lock): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#lock = lock;
      this.#epoch = lock.fence;
      const renew = setInterval(
        () => {
          // Not held → the lock aborts itself; Redis away → retried next period until the local
          // lease (minus the drift margin) runs out, which aborts it.
          lock.extend().then(
            () => {
              this.emit('renewed', lock.expiresAt);
            },
            () => undefined,
          );
        },
        Math.max(1, Math.floor(this.ttlMs / 3)),
      );
      renew.unref();
      const lost = () => {
        clearInterval(renew);
        this.#lock = null;
        this.#epoch = null;
        // resign() aborts #stop before it releases the lease: the lock's own reason ("no longer
        // held … use a longer ttl") would then misdescribe an orderly hand-over as a fault.
        const resigned = this.#stop.signal.aborted;
        const reason = resigned ? 'resigned' : lock.signal.reason instanceof Error ? lock.signal.reason.message : String(lock.signal.reason);
        if (resigned) this.#ctx.logger.debug({ role: this.role, epoch: lock.fence }, `[redkit] resigned leadership of "${this.role}"`);
        else this.#ctx.logger.warn({ role: this.role, epoch: lock.fence, reason }, `[redkit] leadership of "${this.role}" lost: ${reason}`);
        this.emit('revoked', reason, resigned);
        resolve();
      };
      lock.signal.addEventListener('abort', lost, { once: true });
      this.emit('elected', lock.fence);
      if (lock.signal.aborted) lost();
    });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref();
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * `kit.leader`: leader election over the lock store. In standalone mode this instance leads;
 * when Redis goes away leadership is revoked before the lease could expire elsewhere, and
 * campaigning resumes when Redis is back.
 */
export class LeaderManager {
  readonly #ctx: RedkitContext;
  readonly #locks: LockManager;
  readonly #elections = new Set<Election>();
  readonly #metrics: ReturnType<typeof leaderMetrics>;

  /** Use `kit.leader`. */
  constructor(ctx: RedkitContext, locks: LockManager) {
    this.#ctx = ctx;
    this.#locks = locks;
    this.#metrics = leaderMetrics(ctx.metrics);
  }

  /** Starts campaigning for `role`; the returned Election emits `elected` / `revoked`. */
  campaign(role: string, options: CampaignOptions = {}): Election {
    assertName(role, 'role');
    assertOptions(options, ['ttl'], 'campaign options');
    let ttl = options.ttl ?? DEFAULT_LEADER_TTL_MS;
    // A duration string carries its unit; a number is ms and keeps the checks (and rounding) below.
    if (typeof ttl === 'string') ttl = toMs(ttl, 'ttl');
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0)
      throw new InvalidArgumentError('ttl', `ttl must be a finite number of milliseconds > 0 (got ${String(ttl)})`);
    const election = new Election(this.#ctx, this.#locks, role, Math.ceil(ttl));
    const metrics = this.#metrics;
    election.on('elected', () => metrics.elected(role));
    election.on('revoked', (reason: string, resigned?: boolean) => metrics.revoked(role, resigned === true || reason === 'resigned', reason));
    this.#elections.add(election);
    return election;
  }

  /** Who leads `role` now, or null. @throws RedisUnavailableError when Redis is configured but down */
  async current(role: string): Promise<LeaderInfo | null> {
    assertName(role, 'role');
    const [holder] = await this.#locks.holdersOf({ kind: 'leader', name: role, limit: 1 });
    if (!holder) return null;
    const cut = holder.token.lastIndexOf('|');
    return { instanceId: cut >= 0 ? holder.token.slice(0, cut) : holder.token, epoch: holder.fence };
  }

  /**
   * Campaigns for `role` and runs `task(signal)` each time this instance is elected; `signal`
   * aborts on revocation. Errors of `task` are logged. Returns the Election (resign to stop).
   */
  runWhileLeader(role: string, task: (signal: AbortSignal, epoch: number) => Promise<unknown> | unknown, options: CampaignOptions = {}): Election {
    const election = this.campaign(role, options);
    let current: AbortController | null = null;
    election.on('elected', (epoch) => {
      const controller = new AbortController();
      current = controller;
      Promise.resolve()
        .then(() => task(controller.signal, epoch))
        .catch((err) => {
          this.#ctx.logger.error({ role, err: String((err as Error)?.message ?? err) }, '[redkit] leader task failed');
        });
    });
    election.on('revoked', (reason) => {
      current?.abort(reason);
      current = null;
    });
    return election;
  }

  /** Resigns every election (instant hand-over to another instance). */
  async close(): Promise<void> {
    await Promise.all([...this.#elections].map((e) => e.resign()));
    this.#elections.clear();
  }
}

import type { RedkitContext } from '../context.js';
import { JobStore, type JobStoreOptions } from './job-store.js';
import { MemoryJobLocks, RedisJobLocks, type JobLocks } from './job-lock.js';
import { JobRunner, type JobRunnerOptions } from './runner.js';

/** `kit.jobs`: the default job store and runners for external jobs; closed with the toolkit. */
export class JobsManager {
  readonly #ctx: RedkitContext;
  readonly #stores = new Set<JobStore>();
  readonly #runners = new Set<JobRunner<any>>();
  #store: JobStore | null = null;
  #locks: JobLocks | null = null;

  constructor(ctx: RedkitContext) {
    this.#ctx = ctx;
  }

  /** The job store with the default TTL (7200 s). */
  get store(): JobStore {
    this.#store ??= this.createStore();
    return this.#store;
  }

  /** Another store with its own options (e.g. a shorter `ttl`); same keys, same Redis. */
  createStore(opts: JobStoreOptions = {}): JobStore {
    const store = new JobStore(this.#ctx, opts);
    this.#stores.add(store);
    return store;
  }

  /** A runner for external jobs of `opts.kind` through `opts.adapter`; call `recover()` on startup. */
  runner<I = unknown>(opts: JobRunnerOptions<I>): JobRunner<I> {
    this.#locks ??= this.#ctx.config.mode === 'standalone' ? new MemoryJobLocks() : new RedisJobLocks(this.#ctx);
    const runner = new JobRunner<I>(this.#ctx, opts?.store ?? this.store, this.#locks, opts);
    this.#runners.add(runner);
    return runner;
  }

  /** Closes runners (releasing their locks) then stores. */
  async close(): Promise<void> {
    await Promise.all([...this.#runners].map((r) => r.close()));
    for (const s of this.#stores) s.close();
  }
}

export { JobStore, JobRunner };
export type { JobStoreOptions, JobRunnerOptions };
export type { RecoverReport } from './runner.js';
export { MemoryJobStore } from './memory-job-store.js';
export { RedisJobStore } from './redis-job-store.js';
export { MemoryJobLocks, RedisJobLocks } from './job-lock.js';
export type { JobLocks } from './job-lock.js';
export { canTransition, FINISHED } from './types.js';
export type { JobRecord, JobStatus, JobPatch, JobEvent, CreateJobInput, ExternalJobAdapter, ExternalStatus, JobBackend } from './types.js';
export { ComfyUIAdapter, startComfyUIStub } from './comfyui/index.js';
export type { ComfyUIAdapterOptions, ComfyUIInput, ComfyUIStub, ComfyUIStubOptions } from './comfyui/index.js';

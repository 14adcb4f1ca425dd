/** Lifecycle of a job: queued → submitted → running → succeeded | failed | cancelled (finished never change). */
export type JobStatus = 'queued' | 'submitted' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** Statuses after which a record never changes again. */
export const FINISHED: ReadonlySet<JobStatus> = new Set<JobStatus>(['succeeded', 'failed', 'cancelled']);

const RANK: Record<JobStatus, number> = { queued: 1, submitted: 2, running: 3, succeeded: 9, failed: 9, cancelled: 9 };

/** True when a record in `from` may move to `to` (the same rule as `lua/job-update-1.lua`). */
export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return RANK[from] !== 9 && RANK[to] >= RANK[from];
}

/** One durable job record, stored at `<prefix>:job:{id}`. Times are ms since the epoch. */
export interface JobRecord {
  id: string;
  kind: string;
  status: JobStatus;
  /** 0–100. */
  progress: number;
  /** The external system's id (e.g. ComfyUI's prompt_id), once submitted. */
  externalId: string | null;
  /** Submissions started (the runner counts them to never submit twice). */
  attempts: number;
  createdAt: number;
  updatedAt: number;
  /** What the job was started with (needed to submit it after a restart). */
  input?: unknown;
  result?: unknown;
  error?: string;
}

/** What `store.create` takes. */
export interface CreateJobInput {
  /** Default: a random UUID. */
  id?: string;
  kind: string;
  input?: unknown;
}

/** What `store.update` may change; `status` is validated against the lifecycle. */
export interface JobPatch {
  status?: JobStatus;
  progress?: number;
  externalId?: string;
  attempts?: number;
  result?: unknown;
  error?: string;
}

/** A change notification: sent on every create and update, across instances (Redis pub/sub). */
export interface JobEvent {
  id: string;
  status: JobStatus;
  progress: number;
  updatedAt: number;
}

/** The storage behind JobStore: Redis and in-memory implement it (one contract suite tests both). */
export interface JobBackend {
  /** Creates; false when the id is taken. */
  create(record: JobRecord, ttlSec: number): Promise<boolean>;
  get(id: string): Promise<JobRecord | null>;
  /** Applies the patch atomically; `null` when missing; throws JobTransitionError on a forbidden change. */
  update(id: string, patch: JobPatch, now: number, ttlSec: number): Promise<JobRecord | null>;
  /** Writes back a whole record kept while Redis was down; false when the stored one is finished or newer. */
  restore(record: JobRecord, ttlSec: number): Promise<boolean>;
  /** Every unfinished record; drops index entries of expired or finished jobs on the way. */
  listUnfinished(): Promise<JobRecord[]>;
}

/** Where an external job stands, as an adapter reports it. */
export interface ExternalStatus {
  /** `unknown`: the external system has no such job (lost, or never received). */
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'unknown';
  /** 0–100. */
  progress?: number;
  result?: unknown;
  error?: string;
}

/**
 * The external system a runner drives (ComfyUI, a render farm, …). `submit` gets the job id:
 * adapters that can should use it as the external id (an idempotency key), so that `find` can
 * tell after a crash whether a submission went through.
 */
export interface ExternalJobAdapter<I = unknown> {
  /** Submits the work; returns the external id. Throw ExternalJobError when it is refused. */
  submit(job: { id: string; kind: string; input: I }): Promise<string>;
  status(externalId: string): Promise<ExternalStatus>;
  cancel(externalId: string): Promise<void>;
  /**
   * After a crash between submitting and recording the external id: the external id of this
   * job if the external system has it, else null. Without `find`, such a job is failed rather
   * than risk submitting it twice.
   */
  find?(job: { id: string; kind: string; input: I }): Promise<string | null>;
}

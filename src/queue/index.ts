export { Queue, QueueManager } from './queue.js';
export type { QueueWorker } from './queue.js';
export { MemoryQueue } from './memory-queue.js';
export { RedisQueue, RedisWorker, bullPrefix } from './redis-queue.js';
export type { AddedJob, BackoffOptions, JobContext, JobHandler, JobOptions, JobOutcome, QueueCounts, QueueOptions, WorkerOptions } from './types.js';
export { serialiseJobData, assertJobId } from './validate.js';

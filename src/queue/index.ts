export { Queue } from './queue.js';
export { QueueManager } from './manager.js';
export type { BullMQQueueHandle } from './queue.js';
export type { QueueWorker } from './manager.js';
export { MemoryQueue } from './memory-queue.js';
export { RedisQueue, RedisWorker, bullPrefix } from './redis-queue.js';
export type {
  AddedJob,
  BackoffOptions,
  JobContext,
  JobHandler,
  JobInfo,
  JobOptions,
  JobOutcome,
  JobState,
  QueueCounts,
  QueueEventMap,
  QueueOptions,
  SchedulerInfo,
  SchedulerOptions,
  SchedulerTemplate,
  WorkerOptions,
} from './types.js';
export { serialiseJobData, assertJobId } from './validate.js';

export { LockManager, Semaphore, MemoryLockBackend, RedisLockBackend, driftMarginMs, DEFAULT_LOCK_TTL_MS } from './lock.js';
export type { Lock, LockOptions, LockBackend, LockRef, AcquireReply, HolderInfo } from './lock.js';

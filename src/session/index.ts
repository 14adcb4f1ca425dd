export { SessionStore } from './session-store.js';
export type { StoredSession } from './session-store.js';
export { MemorySessionBackend } from './memory-session-store.js';
export { RedisSessionBackend } from './redis-session-store.js';
export type { SessionBackend, SessionCallback, SessionData, SessionRedisDownPolicy, SessionStoreOptions } from './types.js';

export { RedisConnection } from './redis-connection.js';
export type { ConnectionState, RedisHealth, DedicatedClientOptions } from './redis-connection.js';
export { classifyError } from './classify.js';
export type { ClassifiedError } from './classify.js';
export { redactError } from './redact.js';
export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { SharedSubscriber } from './subscriber.js';
export type { MessageHandler } from './subscriber.js';

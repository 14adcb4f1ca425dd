// The root entry: createRedkit, the capability classes an app holds, their types, and errors.
// Stores, backends, the connection and other building blocks live in `redkit/internals`
// (src/internals.ts): exported for tests and advanced wiring, without a stability promise.
export { Redkit, createRedkit } from './kit.js';
export type { RedkitMode, HealthReport, RedkitInternals } from './kit.js';
export type { RedkitContext } from './context.js';
export type { RedkitOptions, RedkitConfig, Logger } from './config/index.js';
// Types only: `kit.connection` and `kit.keys` are typed by these classes; their constructors are internals.
export type {
  RedisConnection,
  SharedSubscriber,
  ConnectionState,
  RedisHealth,
  RedisTopologyHealth,
  ServerRole,
  ClassifiedError,
  BackoffOptions,
  RedisRestartEvent,
  RedisFailoverEvent,
  HealthWarning,
  DedicatedClientOptions,
  MessageHandler,
  RedisClient,
} from './connection/index.js';
/** True when `kit.redis` is an ioredis `Cluster` (Redis Cluster), not one server's client. */
export { isCluster } from './connection/index.js';
export type { KeySpace } from './keys.js';
export { toMs, optionalMs } from './duration.js';
/** True when a string has no lone UTF-16 surrogate (names and cache keys must not). */
export { isWellFormed } from './keys.js';
export type { DurationBounds } from './duration.js';
export { createDefaultLogger, silentLogger } from './logger.js';
export {
  RateLimiter,
  RedkitThrottlerStorage,
  httpRateLimit,
  fastifyRateLimit,
  expressRateLimit,
  rateLimitHeaders,
  parseTrustProxy,
  compileTrustProxy,
  clientAddress,
} from './ratelimit/index.js';
export type {
  RateLimiterOptions,
  RateLimitResult,
  RateLimitAlgorithm,
  RedisDownPolicy,
  DecidedBy,
  RateLimitPolicy,
  RateLimitStore,
  RateLimitDecision,
  ThrottlerStorageRecord,
  RedkitThrottlerStorageOptions,
  HttpRateLimitOptions,
  HttpRateLimitOutcome,
  HttpRequestInfo,
  HttpKeyPart,
  RateLimitBody,
  TrustProxy,
} from './ratelimit/index.js';
export { LockManager, Semaphore } from './lock/index.js';
export type { Lock, LockOptions, LockBackend, LockRef, AcquireReply, HolderInfo } from './lock/index.js';
export { LeaderManager, Election } from './leader/index.js';
export type { CampaignOptions, LeaderInfo, ElectionEvents } from './leader/index.js';
export { CacheManager, Cache, hashKey, jsonSerializer } from './cache/index.js';
export type {
  NamespaceOptions,
  L1Options,
  StampedeLockOptions,
  SetOptions,
  GetOrSetOptions,
  WrapOptions,
  CacheStats,
  DeploymentCacheStats,
  DeploymentNamespaceStats,
  CacheStore,
  CacheEntry,
  CacheSerializer,
  Duration,
} from './cache/index.js';
export { Realtime, RealtimeGateway, createGateway, DEFAULT_REACTIONS, MAX_REACTIONS_PER_ROOM } from './realtime/index.js';
export type {
  RealtimeOptions,
  Bus,
  BusMessage,
  BusHandler,
  Presence,
  PresenceMember,
  MemberMeta,
  PresenceJoinedEvent,
  PresenceLeftEvent,
  PresenceEventMap,
  PresenceOptions,
  PresenceStats,
  Reactions,
  ReactionCounts,
  ReactionEvent,
  ReactionCountsEvent,
  ReactionsEventMap,
  GatewayOptions,
  GatewayHost,
  GatewayStats,
  GatewayConnectionInfo,
  GatewayIdentity,
  ClientMessage,
  ErrorFrame,
  ProtocolErrorCode,
} from './realtime/index.js';
export { Queue, QueueManager } from './queue/index.js';
export type {
  QueueWorker,
  BullMQQueueHandle,
  AddedJob,
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
} from './queue/index.js';
export { JobsManager, JobStore, JobRunner, ComfyUIAdapter, startComfyUIStub } from './jobs/index.js';
export type {
  JobStoreOptions,
  JobRunnerOptions,
  RecoverReport,
  JobLocks,
  JobRecord,
  JobStatus,
  JobPatch,
  JobEvent,
  CreateJobInput,
  ExternalJobAdapter,
  ExternalStatus,
  JobBackend,
  ComfyUIAdapterOptions,
  ComfyUIInput,
  ComfyUIStub,
  ComfyUIStubOptions,
} from './jobs/index.js';
export { SessionStore } from './session/index.js';
export type { StoredSession, SessionBackend, SessionCallback, SessionData, SessionRedisDownPolicy, SessionStoreOptions } from './session/index.js';
export { Metrics, PROMETHEUS_CONTENT_TYPE, REDKIT_EVENTS } from './metrics/index.js';
export type {
  MetricsOptions,
  RedkitEventMap,
  RedkitEventName,
  RedkitListener,
  MetricsRegistry,
  Counter,
  Gauge,
  Histogram,
  Labels,
  Sample,
  GaugeReading,
  MetricOptions,
  GaugeOptions,
  HistogramOptions,
  CounterSeries,
  GaugeSeries,
  HistogramSeries,
  OtelMeter,
  OtelMeterProvider,
  OperationLabel,
  OperationContext,
  LabelledCommandContext,
} from './metrics/index.js';
export * from './errors.js';

export { Realtime } from './realtime.js';
export type { RealtimeOptions } from './realtime.js';
export type { Bus, BusMessage, BusHandler } from './bus.js';
export type {
  Presence,
  PresenceMember,
  MemberMeta,
  PresenceJoinedEvent,
  PresenceLeftEvent,
  PresenceEventMap,
  PresenceOptions,
  PresenceStats,
} from './presence.js';
export type { Reactions, ReactionCounts, ReactionEvent, ReactionCountsEvent, ReactionsEventMap } from './reactions.js';
export { MAX_REACTIONS_PER_ROOM } from './reactions.js';
export { RealtimeGateway, createGateway, DEFAULT_REACTIONS } from './gateway.js';
export type { GatewayOptions, GatewayHost, GatewayStats, GatewayConnectionInfo, GatewayIdentity } from './gateway.js';
export { parseClientMessage } from './protocol.js';
export type { ClientMessage, ErrorFrame, ProtocolErrorCode } from './protocol.js';
export { MemoryBus } from './memory-bus.js';
export { RedisBus } from './redis-bus.js';
export { MemoryPresence } from './memory-presence.js';
export { RedisPresence, PRESENCE_CHANNEL } from './redis-presence.js';
export { MemoryReactions } from './memory-reactions.js';
export { RedisReactions, REACTIONS_CHANNEL } from './redis-reactions.js';

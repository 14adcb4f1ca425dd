// The gateway's public option, identity and stats types and its option list, separate so gateway.ts holds only behaviour.
import type { IncomingMessage } from 'node:http';
import type { RedkitContext } from '../context.js';
import type { Duration } from '../duration.js';
import type { Realtime } from './realtime.js';

/** Options of the WebSocket gateway. */
export interface GatewayOptions {
  /** URL path the gateway answers upgrades on. Default `/ws`. */
  path?: string;
  /** Largest frame accepted; larger ones close the connection with 1009. Default 4096 bytes. */
  maxPayloadBytes?: number;
  /** Messages per second each connection may send (token bucket refill). Default 20. */
  ratePerSecond?: number;
  /** Burst each connection may send at once. Default 40. */
  rateBurst?: number;
  /**
   * A limiter shared across instances (e.g. `kit.rateLimiter(…)`) asked before each reaction,
   * keyed by member id (or remote address): unlike the per-connection bucket, it holds however
   * many connections and instances one member uses. Refused reactions get `E_RATE_LIMITED`.
   */
  reactionLimiter?: { consume(key: string): Promise<{ allowed: boolean; retryAfterMs: number }> };
  /**
   * A connection over its rate limit is closed with 1008 once it has stayed over it for
   * `floodGraceMs` (default 1000) or had `floodCloseAfter` (default 100) messages rejected, without
   * pausing long enough for its burst to refill in between.
   */
  floodCloseAfter?: number;
  /** See `floodCloseAfter`. Ms or a duration string. Default 1000 ms. */
  floodGraceMs?: Duration;
  /** Most incoming messages handled per event-loop turn across all connections (round-robin). Default 64. */
  messagesPerTurn?: number;
  /** Allowed `Origin` headers (exact, e.g. `https://app.example.com`); others are closed with 1008. Default: any. */
  allowedOrigins?: string[] | null;
  /** Reactions clients may send. Default 👍 ❤️ 😂 🎉 😮 🔥. */
  reactions?: string[];
  /** Rooms one connection may join. Default 8. */
  maxRoomsPerConnection?: number;
  /** Ping period, ms or a duration string (`'30s'`); a connection that did not answer the previous ping is terminated. Default 30000 ms. */
  pingIntervalMs?: Duration;
  /** Log connections, joins and leaves at info level (`DEBUG_PRESENCE=1`). Default: the realtime `debug` option. */
  debug?: boolean;
  /**
   * Who the upgrade request is (from your session cookie or token). When set, a connection it
   * answers `null` for is closed with 1008, and joins must use the returned id (else
   * E_IDENTITY); the name it returns wins over the client's. Default: clients name themselves.
   */
  identify?: (request: IncomingMessage) => Promise<GatewayIdentity | null> | GatewayIdentity | null;
}

/** An authenticated identity returned by `GatewayOptions.identify`. */
export interface GatewayIdentity {
  id: string;
  name?: string;
}

/** What the gateway needs from the toolkit (a `Redkit` fits). */
export type GatewayHost = RedkitContext & { readonly realtime: Realtime; readonly mode: string };

/** A connection as `?debug=1` shows it. */
export interface GatewayConnectionInfo {
  id: string;
  memberId: string | null;
  rooms: string[];
  remoteAddress: string | undefined;
  origin: string | undefined;
  connectedAt: string;
  received: number;
  rejected: number;
}

/** Counters for the live page and logs. */
export interface GatewayStats {
  instanceId: string;
  mode: string;
  connections: number;
  rooms: Array<{ room: string; localConnections: number }>;
  received: number;
  rejected: number;
  closedForAbuse: number;
}

/** @internal The keys of GatewayOptions, for assertOptions. */
// A typed Record: tsc fails here when an option is added to GatewayOptions and not to this list.
export const GATEWAY_OPTION_KEYS = Object.keys({
  path: true,
  maxPayloadBytes: true,
  ratePerSecond: true,
  rateBurst: true,
  reactionLimiter: true,
  floodCloseAfter: true,
  floodGraceMs: true,
  messagesPerTurn: true,
  allowedOrigins: true,
  reactions: true,
  maxRoomsPerConnection: true,
  pingIntervalMs: true,
  debug: true,
  identify: true,
} satisfies Record<keyof GatewayOptions, true>);

/** Default reactions of the live page. */
export const DEFAULT_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '🔥'];

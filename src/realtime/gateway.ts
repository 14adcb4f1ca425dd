import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import * as wsModule from 'ws';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { RedkitContext } from '../context.js';
import { toMs, type Duration } from '../duration.js';
import { RedkitError } from '../errors.js';
import { assertOptions } from '../options.js';
import { rateLimitedLog, type RateLimitedLogFn } from '../rate-limited-log.js';
import { FairQueue, FloodGuard } from './flood.js';
import { parseClientMessage, type ClientMessage, type ErrorFrame, type ProtocolErrorCode } from './protocol.js';
import type { PresenceJoinedEvent, PresenceLeftEvent } from './presence.js';
import type { ReactionCountsEvent, ReactionEvent } from './reactions.js';
import { gatewayMetrics } from '../metrics/instruments.js';
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

interface Conn {
  id: string;
  ws: WebSocket;
  memberId: string | null;
  /** Set by `identify`: the only id this connection may join as. */
  identity: GatewayIdentity | null;
  /** Rooms joined, and whether the snapshot was sent (only then do diffs flow). */
  rooms: Map<string, { ready: boolean }>;
  flood: FloodGuard;
  received: number;
  rejected: number;
  alive: boolean;
  queue: Promise<void>;
  remoteAddress: string | undefined;
  origin: string | undefined;
  connectedAt: Date;
  lastRateError: number;
}

// A typed Record: tsc fails here when an option is added to GatewayOptions and not to this list.
const GATEWAY_OPTION_KEYS = Object.keys({
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

/**
 * The WebSocket gateway of the reference server: clients join rooms, react, and receive
 * presence snapshots and diffs and reaction counts from every instance. Every incoming frame
 * is bounded (size, rate) and validated; bad ones get an `error` frame or a close code
 * (1008 policy, 1009 too big), never an exception in the server.
 */
export class RealtimeGateway {
  readonly #host: GatewayHost;
  readonly #wss: WebSocketServer;
  readonly #conns = new Set<Conn>();
  readonly #rooms = new Map<string, { conns: Set<Conn>; unwatch: Promise<Array<() => void>> }>();
  readonly #path: string;
  readonly #maxPayload: number;
  readonly #rate: number;
  readonly #reactionLimiter: GatewayOptions['reactionLimiter'];
  readonly #burst: number;
  readonly #floodCloseAfter: number;
  readonly #floodGraceMs: number;
  readonly #inbox: FairQueue<Conn, { data: RawData; isBinary: boolean }>;
  readonly #origins: Set<string> | null;
  readonly #reactions: Set<string>;
  readonly #maxRooms: number;
  readonly #debug: boolean;
  readonly #identify: GatewayOptions['identify'];
  readonly #ping: NodeJS.Timeout;
  readonly #cleanups: Array<() => void> = [];
  #received = 0;
  #rejected = 0;
  #closedForAbuse = 0;
  #closed = false;
  readonly #metrics: ReturnType<typeof gatewayMetrics>;
  /** identify() and handler failures repeat per connection or message: a few lines a minute per topic. */
  readonly #warn: RateLimitedLogFn;

  constructor(host: GatewayHost, options: GatewayOptions = {}) {
    assertOptions(options, GATEWAY_OPTION_KEYS, 'gateway options');
    // Parsed before anything starts (the WebSocketServer, listeners), so a bad value leaks nothing.
    const pingMs = toMs(options.pingIntervalMs ?? 30_000, 'pingIntervalMs', { min: 1 });
    this.#host = host;
    this.#metrics = gatewayMetrics(host.metrics, () => this.#conns.size);
    this.#warn = rateLimitedLog(host.logger, 'warn', { burst: 3 });
    this.#path = options.path ?? '/ws';
    this.#maxPayload = options.maxPayloadBytes ?? 4096;
    this.#rate = options.ratePerSecond ?? 20;
    this.#reactionLimiter = options.reactionLimiter;
    this.#burst = options.rateBurst ?? 40;
    this.#floodCloseAfter = options.floodCloseAfter ?? 100;
    this.#floodGraceMs = toMs(options.floodGraceMs ?? 1000, 'floodGraceMs');
    this.#inbox = new FairQueue(options.messagesPerTurn ?? 64, (conn, m) => this.#onMessage(conn, m.data, m.isBinary));
    this.#origins = options.allowedOrigins?.length ? new Set(options.allowedOrigins) : null;
    this.#reactions = new Set(options.reactions ?? DEFAULT_REACTIONS);
    this.#maxRooms = options.maxRoomsPerConnection ?? 8;
    this.#debug = options.debug ?? host.realtime.options.debug ?? false;
    this.#identify = options.identify;
    // ws enforces maxPayload while reading the frame and closes with 1009 by itself.
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: this.#maxPayload, clientTracking: false, perMessageDeflate: false });

    const presence = host.realtime.presence;
    const reactions = host.realtime.reactions;
    const onJoined = (e: PresenceJoinedEvent) => this.#toRoom(e.room, { type: 'joined', room: e.room, member: e.member });
    const onLeft = (e: PresenceLeftEvent) => this.#toRoom(e.room, { type: 'left', room: e.room, memberId: e.memberId });
    const onReaction = (e: ReactionEvent) => this.#toRoom(e.room, { type: 'reaction', room: e.room, reaction: e.reaction, count: e.count, by: e.by });
    const onCounts = (e: ReactionCountsEvent) => this.#toRoom(e.room, { type: 'reactions', room: e.room, counts: e.counts });
    const onState = () => this.#toAll({ type: 'status', mode: host.mode });
    presence.on('joined', onJoined);
    presence.on('left', onLeft);
    reactions.on('reaction', onReaction);
    reactions.on('counts', onCounts);
    host.connection.on('state', onState);
    this.#cleanups.push(() => {
      presence.off('joined', onJoined);
      presence.off('left', onLeft);
      reactions.off('reaction', onReaction);
      reactions.off('counts', onCounts);
      host.connection.off('state', onState);
    });

    this.#ping = setInterval(() => {
      for (const conn of this.#conns) {
        if (!conn.alive) {
          this.#log({ connection: conn.id }, 'no pong: terminating');
          conn.ws.terminate();
          continue;
        }
        conn.alive = false;
        try {
          conn.ws.ping();
        } catch {
          /* closing already */
        }
      }
    }, pingMs);
    this.#ping.unref();
  }

  /** The path upgrades are answered on. */
  get path(): string {
    return this.#path;
  }

  /** Answers WebSocket upgrades on `path` of an HTTP server (other paths are left to other listeners). */
  attach(server: Server): this {
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.handleUpgrade(req, socket, head);
    };
    server.on('upgrade', listener);
    this.#cleanups.push(() => server.off('upgrade', listener));
    return this;
  }

  /** Handles one upgrade request; returns false (touching nothing) when its path is not ours. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== this.#path) return false;
    if (this.#closed) {
      socket.destroy();
      return true;
    }
    if (!this.#identify) {
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req, null));
      return true;
    }
    void (async () => {
      let identity: GatewayIdentity | null = null;
      try {
        identity = (await this.#identify!(req)) ?? null;
      } catch (err) {
        this.#warn('identify', { err: String((err as Error)?.message ?? err) }, '[realtime] identify() threw; treating the connection as unidentified');
      }
      if (socket.destroyed) return;
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        if (!identity) {
          this.#closedForAbuse++;
          ws.close(1008, 'unauthorized');
          return;
        }
        this.#accept(ws, req, identity);
      });
    })();
    return true;
  }

  /** Counters for the live page. */
  stats(): GatewayStats {
    return {
      instanceId: this.#host.instanceId,
      mode: this.#host.mode,
      connections: this.#conns.size,
      rooms: [...this.#rooms].map(([room, r]) => ({ room, localConnections: r.conns.size })).sort((a, b) => a.room.localeCompare(b.room)),
      received: this.#received,
      rejected: this.#rejected,
      closedForAbuse: this.#closedForAbuse,
    };
  }

  /** Every connection of this instance (for `?debug=1`). */
  connections(): GatewayConnectionInfo[] {
    return [...this.#conns].map((c) => ({
      id: c.id,
      memberId: c.memberId,
      rooms: [...c.rooms.keys()],
      remoteAddress: c.remoteAddress,
      origin: c.origin,
      connectedAt: c.connectedAt.toISOString(),
      received: c.received,
      rejected: c.rejected,
    }));
  }

  /**
   * Closes every connection (1001, going away), withdraws their presence at once, and stops
   * listening. A client that does not answer the close frame within `closeTimeoutMs` (default
   * 500) is terminated, so a deploy never waits on a silent peer. Idempotent.
   */
  async close(closeTimeoutMs = 500): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#metrics.detach();
    clearInterval(this.#ping);
    const conns = [...this.#conns];
    for (const conn of conns) conn.ws.close(1001, 'server shutting down');
    // Withdraw first: the others must see the leave now, not after this instance's heartbeat expires.
    await Promise.all(conns.map((conn) => this.#drop(conn)));
    // ws keeps the socket open until the peer answers the close frame (or 30 s); the HTTP
    // server's close() waits for every socket, so wait briefly and then cut the silent ones.
    const open = conns.filter((c) => c.ws.readyState !== c.ws.CLOSED);
    if (open.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(
          open.map(
            (c) =>
              new Promise<void>((resolve) => {
                if (c.ws.readyState === c.ws.CLOSED) resolve();
                else c.ws.once('close', () => resolve());
              }),
          ),
        ),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, closeTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      for (const c of open) if (c.ws.readyState !== c.ws.CLOSED) c.ws.terminate();
    }
    this.#inbox.clear();
    for (const fn of this.#cleanups) fn();
    for (const room of this.#rooms.values()) for (const unwatch of await room.unwatch.catch(() => [])) unwatch();
    this.#rooms.clear();
    this.#wss.close();
  }

  // ---- connections ------------------------------------------------------------------------

  #accept(ws: WebSocket, req: IncomingMessage, identity: GatewayIdentity | null): void {
    const origin = req.headers.origin;
    if (this.#origins && (!origin || !this.#origins.has(origin))) {
      this.#closedForAbuse++;
      this.#log({ origin }, 'origin not allowed: closing with 1008');
      ws.close(1008, 'origin not allowed');
      return;
    }
    const conn: Conn = {
      id: randomBytes(6).toString('hex'),
      ws,
      memberId: identity?.id ?? null,
      identity,
      rooms: new Map(),
      flood: new FloodGuard(this.#rate, this.#burst, this.#floodGraceMs, this.#floodCloseAfter),
      received: 0,
      rejected: 0,
      alive: true,
      queue: Promise.resolve(),
      remoteAddress: req.socket.remoteAddress,
      origin,
      connectedAt: new Date(),
      lastRateError: 0,
    };
    this.#conns.add(conn);
    this.#log({ connection: conn.id, remote: conn.remoteAddress }, 'connection opened');
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('message', (data: RawData, isBinary: boolean) => this.#onFrame(conn, data, isBinary));
    ws.on('error', (err: Error & { code?: string }) => {
      // ws closes with 1009 itself for frames over maxPayload; this only records why.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.#closedForAbuse++;
      this.#log({ connection: conn.id, err: err.message, code: err.code }, 'connection error');
    });
    this.#metrics.opened();
    ws.on('close', (code: number) => {
      this.#metrics.closed(code);
      this.#log({ connection: conn.id, code }, 'connection closed');
      void this.#drop(conn);
    });
    this.#send(conn, {
      type: 'hello',
      instanceId: this.#host.instanceId,
      connectionId: conn.id,
      memberId: conn.identity?.id ?? null,
      mode: this.#host.mode,
      limits: { maxPayloadBytes: this.#maxPayload, ratePerSecond: this.#rate, rateBurst: this.#burst, maxRooms: this.#maxRooms },
      reactions: [...this.#reactions],
    });
  }

  /** Rate check on arrival (cheap, so a flood costs little); parsing waits for the connection's turn. */
  #onFrame(conn: Conn, data: RawData, isBinary: boolean): void {
    if (this.#conns.has(conn) === false) return;
    conn.received++;
    this.#received++;
    const verdict = conn.flood.check();
    if (verdict !== 'accept') {
      conn.rejected++;
      this.#rejected++;
      if (verdict === 'close') {
        this.#closedForAbuse++;
        this.#log({ connection: conn.id }, 'flood: closing with 1008');
        conn.ws.close(1008, 'rate limit exceeded');
        // Frames still arriving during the close handshake are ignored from now on.
        void this.#drop(conn);
        return;
      }
      // One error frame per second at most: answering every flooded frame would amplify the flood.
      const now = performance.now();
      if (now - conn.lastRateError >= 1000) {
        conn.lastRateError = now;
        this.#error(
          conn,
          'E_RATE_LIMITED',
          `too many messages: at most ${this.#rate}/s (burst ${this.#burst}); a connection that stays over the limit for ${this.#floodGraceMs} ms is closed`,
        );
      }
      return;
    }
    this.#inbox.push(conn, { data, isBinary });
  }

  #onMessage(conn: Conn, data: RawData, isBinary: boolean): void {
    if (!this.#conns.has(conn)) return;
    if (isBinary) {
      conn.rejected++;
      this.#rejected++;
      this.#error(conn, 'E_BAD_MESSAGE', 'binary frames are not accepted: send JSON text frames');
      return;
    }
    const parsed = parseClientMessage(data.toString());
    if (!parsed.ok) {
      conn.rejected++;
      this.#rejected++;
      this.#send(conn, parsed.error);
      return;
    }
    // One message at a time per connection, so that a join's snapshot precedes its diffs and a leave follows its join.
    conn.queue = conn.queue
      .then(() => this.#handle(conn, parsed.message))
      .catch((err) => {
        const code = err instanceof RedkitError && err.code === 'E_INVALID_ARGUMENT' ? 'E_BAD_MESSAGE' : 'E_INTERNAL';
        if (code === 'E_INTERNAL')
          this.#warn('message', { connection: conn.id, err: String((err as Error)?.message ?? err) }, '[realtime] gateway message failed');
        this.#error(
          conn,
          code,
          code === 'E_INTERNAL' ? 'the server could not handle this message; try again' : String((err as Error).message),
          (parsed.message as { ref?: string }).ref,
        );
      });
  }

  async #handle(conn: Conn, message: ClientMessage): Promise<void> {
    if (!this.#conns.has(conn)) return;
    const { presence, reactions } = this.#host.realtime;
    switch (message.type) {
      case 'ping':
        this.#send(conn, { type: 'pong', ref: message.ref, at: Date.now() });
        return;
      case 'join': {
        if (conn.memberId !== null && conn.memberId !== message.id) {
          const why = conn.identity
            ? `this connection is authenticated as "${conn.memberId}"`
            : `this connection joined as "${conn.memberId}"; open another connection to join as "${message.id}"`;
          return this.#error(conn, 'E_IDENTITY', why, message.ref);
        }
        if (!conn.rooms.has(message.room)) {
          if (conn.rooms.size >= this.#maxRooms)
            return this.#error(conn, 'E_TOO_MANY_ROOMS', `a connection may join at most ${this.#maxRooms} rooms; leave one first`, message.ref);
          const first = conn.memberId === null;
          conn.memberId = message.id;
          conn.rooms.set(message.room, { ready: false });
          const name = conn.identity ? conn.identity.name : message.name;
          try {
            await this.#enterRoom(conn, message.room);
            await presence.join(message.room, message.id, name ? { name } : {});
          } catch (err) {
            // Undo, so that the connection is exactly as before the failed join.
            conn.rooms.delete(message.room);
            const state = this.#rooms.get(message.room);
            state?.conns.delete(conn);
            if (state && state.conns.size === 0) {
              this.#rooms.delete(message.room);
              for (const unwatch of await state.unwatch.catch(() => [])) unwatch();
            }
            if (first && !conn.identity) conn.memberId = null;
            throw err;
          }
          this.#log({ connection: conn.id, room: message.room, memberId: message.id }, 'join');
        }
        const state = conn.rooms.get(message.room);
        if (!state || !this.#conns.has(conn)) return;
        this.#send(conn, {
          type: 'snapshot',
          room: message.room,
          members: presence.view(message.room),
          reactions: reactions.view(message.room),
          you: message.id,
          instanceId: this.#host.instanceId,
          mode: this.#host.mode,
          ref: message.ref,
        });
        state.ready = true;
        return;
      }
      case 'leave': {
        if (!conn.rooms.has(message.room)) return this.#error(conn, 'E_NOT_JOINED', `not in room "${message.room}"`, message.ref);
        await this.#leaveRoom(conn, message.room);
        this.#send(conn, { type: 'ack', of: 'leave', room: message.room, ref: message.ref });
        return;
      }
      case 'react': {
        if (!conn.rooms.get(message.room)?.ready) return this.#error(conn, 'E_NOT_JOINED', `join room "${message.room}" before reacting in it`, message.ref);
        if (!this.#reactions.has(message.reaction))
          return this.#error(
            conn,
            'E_REACTION_NOT_ALLOWED',
            `reaction "${message.reaction}" is not offered here; use one of ${[...this.#reactions].join(' ')}`,
            message.ref,
          );
        if (this.#reactionLimiter) {
          const decision = await this.#reactionLimiter.consume(conn.memberId ?? conn.remoteAddress ?? conn.id);
          if (!decision.allowed)
            return this.#error(conn, 'E_RATE_LIMITED', `too many reactions: try again in ${Math.ceil(decision.retryAfterMs / 1000)} s`, message.ref);
        }
        await reactions.react(message.room, message.reaction, conn.memberId ?? '');
        return;
      }
    }
  }

  async #enterRoom(conn: Conn, room: string): Promise<void> {
    let state = this.#rooms.get(room);
    if (!state) {
      const { presence, reactions } = this.#host.realtime;
      const unwatch = Promise.all([presence.watch(room), reactions.watch(room)]);
      state = { conns: new Set(), unwatch };
      this.#rooms.set(room, state);
    }
    state.conns.add(conn);
    await state.unwatch;
  }

  async #leaveRoom(conn: Conn, room: string): Promise<void> {
    conn.rooms.delete(room);
    const state = this.#rooms.get(room);
    state?.conns.delete(conn);
    if (conn.memberId) await this.#host.realtime.presence.leave(room, conn.memberId);
    this.#log({ connection: conn.id, room, memberId: conn.memberId }, 'leave');
    if (state && state.conns.size === 0 && this.#rooms.get(room) === state) {
      this.#rooms.delete(room);
      for (const unwatch of await state.unwatch.catch(() => [])) unwatch();
    }
  }

  /** Forgets a closed connection: leaves its rooms after whatever it was doing finished. */
  #drop(conn: Conn): Promise<void> {
    if (!this.#conns.delete(conn)) return conn.queue;
    this.#inbox.drop(conn);
    conn.queue = conn.queue.then(async () => {
      for (const room of [...conn.rooms.keys()]) {
        await this.#leaveRoom(conn, room).catch((err) =>
          this.#host.logger.warn({ connection: conn.id, room, err: String((err as Error)?.message ?? err) }, '[realtime] leave on close failed'),
        );
      }
    });
    return conn.queue;
  }

  // ---- sending ----------------------------------------------------------------------------

  #toRoom(room: string, frame: object): void {
    const state = this.#rooms.get(room);
    if (!state) return;
    const frames = preEncode(JSON.stringify(frame));
    for (const conn of state.conns) if (conn.rooms.get(room)?.ready) this.#sendFrames(conn, frames);
  }

  #toAll(frame: object): void {
    const frames = preEncode(JSON.stringify(frame));
    for (const conn of this.#conns) this.#sendFrames(conn, frames);
  }

  #send(conn: Conn, frame: object): void {
    this.#sendFrames(conn, preEncode(JSON.stringify(frame)));
  }

  #sendFrames(conn: Conn, frames: Buffer[]): void {
    const ws = conn.ws as WebSocket & { _sender?: { sendFrame?: (list: Buffer[], cb?: () => void) => void } };
    if (ws.readyState !== ws.OPEN) return;
    // A client that stops reading must not grow this process's memory without bound.
    if (ws.bufferedAmount > 4 * 1024 * 1024) {
      this.#log({ connection: conn.id }, 'slow consumer: terminating');
      ws.terminate();
      return;
    }
    // Hand-written hot path: a broadcast is framed once and the same buffers are written to every
    // socket (what engine.io does for socket.io broadcasts); ws.send would re-encode and re-frame
    // the text per connection. Safe because server frames are unmasked and we never compress.
    if (typeof ws._sender?.sendFrame === 'function') ws._sender.sendFrame(frames);
    else ws.send(Buffer.concat(frames.slice(1)), { binary: false });
  }

  #error(conn: Conn, code: ProtocolErrorCode, message: string, ref?: string): void {
    const frame: ErrorFrame = ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref };
    this.#send(conn, frame);
  }

  #log(obj: object, msg: string): void {
    if (this.#debug) this.#host.logger.info({ instanceId: this.#host.instanceId, ...obj }, `[gateway] ${msg}`);
  }
}

/** ws's frame encoder: exported at run time, missing from @types/ws. */
const Sender = (
  wsModule as unknown as {
    Sender: { frame(data: Buffer, options: { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean }): Buffer[] };
  }
).Sender;

/** A text frame framed once for any number of sockets: [header, payload]. */
function preEncode(json: string): Buffer[] {
  return Sender.frame(Buffer.from(json), { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: true }) as Buffer[];
}

/** Creates a gateway over a toolkit's realtime capability; `attach(server)` it to an HTTP server. */
export function createGateway(host: GatewayHost, options: GatewayOptions = {}): RealtimeGateway {
  return new RealtimeGateway(host, options);
}

import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { toMs } from '../duration.js';
import { RedkitError } from '../errors.js';
import { assertOptions } from '../options.js';
import { rateLimitedLog, type RateLimitedLogFn } from '../rate-limited-log.js';
import { FairQueue, FloodGuard } from './flood.js';
import { awaitClosed, connectionInfo, createConn, pingAll, preEncode, sendFrames, type Conn } from './gateway-conn.js';
import { handleMessage, type DispatchHost } from './gateway-dispatch.js';
import {
  DEFAULT_REACTIONS,
  GATEWAY_OPTION_KEYS,
  type GatewayConnectionInfo,
  type GatewayHost,
  type GatewayIdentity,
  type GatewayOptions,
  type GatewayStats,
} from './gateway-types.js';
import { parseClientMessage, type ErrorFrame, type ProtocolErrorCode } from './protocol.js';
import type { PresenceJoinedEvent, PresenceLeftEvent } from './presence.js';
import type { ReactionCountsEvent, ReactionEvent } from './reactions.js';
import { gatewayMetrics } from '../metrics/instruments.js';

export { DEFAULT_REACTIONS } from './gateway-types.js';
export type { GatewayOptions, GatewayIdentity, GatewayHost, GatewayConnectionInfo, GatewayStats } from './gateway-types.js';

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
  /** handleMessage's view of this gateway. */
  readonly #dispatch: DispatchHost;

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
    this.#dispatch = {
      host,
      maxRooms: this.#maxRooms,
      reactions: this.#reactions,
      reactionLimiter: this.#reactionLimiter,
      isOpen: (conn) => this.#conns.has(conn),
      enterRoom: (conn, room) => this.#enterRoom(conn, room),
      abandonRoom: (conn, room) => this.#abandonRoom(conn, room),
      leaveRoom: (conn, room) => this.#leaveRoom(conn, room),
      send: (conn, frame) => this.#send(conn, frame),
      error: (conn, code, message, ref) => this.#error(conn, code, message, ref),
      log: (obj, msg) => this.#log(obj, msg),
    };

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

    this.#ping = setInterval(() => pingAll(this.#conns, (conn) => this.#log({ connection: conn.id }, 'no pong: terminating')), pingMs);
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
    return [...this.#conns].map(connectionInfo);
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
    // The HTTP server's close() waits for every socket: wait briefly, then cut the silent ones.
    await awaitClosed(conns, closeTimeoutMs);
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
    const conn = createConn(ws, req, identity, new FloodGuard(this.#rate, this.#burst, this.#floodGraceMs, this.#floodCloseAfter));
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
      .then(() => handleMessage(this.#dispatch, conn, parsed.message))
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

  async #abandonRoom(conn: Conn, room: string): Promise<void> {
    conn.rooms.delete(room);
    const state = this.#rooms.get(room);
    state?.conns.delete(conn);
    if (state && state.conns.size === 0) {
      this.#rooms.delete(room);
      for (const unwatch of await state.unwatch.catch(() => [])) unwatch();
    }
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
    for (const conn of state.conns) if (conn.rooms.get(room)?.ready) sendFrames(conn, frames, this.#onSlow);
  }

  #toAll(frame: object): void {
    const frames = preEncode(JSON.stringify(frame));
    for (const conn of this.#conns) sendFrames(conn, frames, this.#onSlow);
  }

  #send(conn: Conn, frame: object): void {
    sendFrames(conn, preEncode(JSON.stringify(frame)), this.#onSlow);
  }

  readonly #onSlow = (conn: Conn): void => this.#log({ connection: conn.id }, 'slow consumer: terminating');

  #error(conn: Conn, code: ProtocolErrorCode, message: string, ref?: string): void {
    const frame: ErrorFrame = ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref };
    this.#send(conn, frame);
  }

  #log(obj: object, msg: string): void {
    if (this.#debug) this.#host.logger.info({ instanceId: this.#host.instanceId, ...obj }, `[gateway] ${msg}`);
  }
}

/** Creates a gateway over a toolkit's realtime capability; `attach(server)` it to an HTTP server. */
export function createGateway(host: GatewayHost, options: GatewayOptions = {}): RealtimeGateway {
  return new RealtimeGateway(host, options);
}

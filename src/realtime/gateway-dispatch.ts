// What the gateway does with each client message (join, leave, react, ping), separate from connection and room bookkeeping.
import type { Conn } from './gateway-conn.js';
import type { GatewayHost, GatewayOptions } from './gateway-types.js';
import type { ClientMessage, ProtocolErrorCode } from './protocol.js';

/** @internal What handleMessage needs from the gateway (built once by RealtimeGateway). */
export interface DispatchHost {
  host: GatewayHost;
  maxRooms: number;
  reactions: ReadonlySet<string>;
  reactionLimiter: GatewayOptions['reactionLimiter'];
  /** False once the connection was dropped. */
  isOpen(conn: Conn): boolean;
  /** Adds the connection to the room's local audience, watching the room when it is the first. */
  enterRoom(conn: Conn, room: string): Promise<void>;
  /** Undoes enterRoom after a failed join. */
  abandonRoom(conn: Conn, room: string): Promise<void>;
  /** Leaves the room (presence too) and stops watching it when nobody here is left in it. */
  leaveRoom(conn: Conn, room: string): Promise<void>;
  send(conn: Conn, frame: object): void;
  error(conn: Conn, code: ProtocolErrorCode, message: string, ref?: string): void;
  log(obj: object, msg: string): void;
}

/** @internal Handles one validated client message; runs one at a time per connection. */
export async function handleMessage(gw: DispatchHost, conn: Conn, message: ClientMessage): Promise<void> {
  if (!gw.isOpen(conn)) return;
  const { presence, reactions } = gw.host.realtime;
  switch (message.type) {
    case 'ping':
      gw.send(conn, { type: 'pong', ref: message.ref, at: Date.now() });
      return;
    case 'join': {
      if (conn.memberId !== null && conn.memberId !== message.id) {
        const why = conn.identity
          ? `this connection is authenticated as "${conn.memberId}"`
          : `this connection joined as "${conn.memberId}"; open another connection to join as "${message.id}"`;
        return gw.error(conn, 'E_IDENTITY', why, message.ref);
      }
      if (!conn.rooms.has(message.room)) {
        if (conn.rooms.size >= gw.maxRooms)
          return gw.error(conn, 'E_TOO_MANY_ROOMS', `a connection may join at most ${gw.maxRooms} rooms; leave one first`, message.ref);
        const first = conn.memberId === null;
        conn.memberId = message.id;
        conn.rooms.set(message.room, { ready: false });
        const name = conn.identity ? conn.identity.name : message.name;
        try {
          await gw.enterRoom(conn, message.room);
          await presence.join(message.room, message.id, name ? { name } : {});
        } catch (err) {
          // Undo, so that the connection is exactly as before the failed join.
          await gw.abandonRoom(conn, message.room);
          if (first && !conn.identity) conn.memberId = null;
          throw err;
        }
        gw.log({ connection: conn.id, room: message.room, memberId: message.id }, 'join');
      }
      const state = conn.rooms.get(message.room);
      if (!state || !gw.isOpen(conn)) return;
      gw.send(conn, {
        type: 'snapshot',
        room: message.room,
        members: presence.view(message.room),
        reactions: reactions.view(message.room),
        you: message.id,
        instanceId: gw.host.instanceId,
        mode: gw.host.mode,
        ref: message.ref,
      });
      state.ready = true;
      return;
    }
    case 'leave': {
      if (!conn.rooms.has(message.room)) return gw.error(conn, 'E_NOT_JOINED', `not in room "${message.room}"`, message.ref);
      await gw.leaveRoom(conn, message.room);
      gw.send(conn, { type: 'ack', of: 'leave', room: message.room, ref: message.ref });
      return;
    }
    case 'react': {
      if (!conn.rooms.get(message.room)?.ready) return gw.error(conn, 'E_NOT_JOINED', `join room "${message.room}" before reacting in it`, message.ref);
      if (!gw.reactions.has(message.reaction))
        return gw.error(
          conn,
          'E_REACTION_NOT_ALLOWED',
          `reaction "${message.reaction}" is not offered here; use one of ${[...gw.reactions].join(' ')}`,
          message.ref,
        );
      if (gw.reactionLimiter) {
        const decision = await gw.reactionLimiter.consume(conn.memberId ?? conn.remoteAddress ?? conn.id);
        if (!decision.allowed)
          return gw.error(conn, 'E_RATE_LIMITED', `too many reactions: try again in ${Math.ceil(decision.retryAfterMs / 1000)} s`, message.ref);
      }
      await reactions.react(message.room, message.reaction, conn.memberId ?? '');
      return;
    }
  }
}

// A gateway connection's state and how frames reach its socket, separate from the gateway's room and message logic.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import * as wsModule from 'ws';
import type { WebSocket } from 'ws';
import type { FloodGuard } from './flood.js';
import type { GatewayConnectionInfo, GatewayIdentity } from './gateway-types.js';

/** @internal One WebSocket connection of the gateway. */
export interface Conn {
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

/** @internal A new connection's state; `identity` (from identify()) fixes its member id. */
export function createConn(ws: WebSocket, req: IncomingMessage, identity: GatewayIdentity | null, flood: FloodGuard): Conn {
  return {
    id: randomBytes(6).toString('hex'),
    ws,
    memberId: identity?.id ?? null,
    identity,
    rooms: new Map(),
    flood,
    received: 0,
    rejected: 0,
    alive: true,
    queue: Promise.resolve(),
    remoteAddress: req.socket.remoteAddress,
    origin: req.headers.origin,
    connectedAt: new Date(),
    lastRateError: 0,
  };
}

/** @internal A connection as `?debug=1` shows it. */
export function connectionInfo(c: Conn): GatewayConnectionInfo {
  return {
    id: c.id,
    memberId: c.memberId,
    rooms: [...c.rooms.keys()],
    remoteAddress: c.remoteAddress,
    origin: c.origin,
    connectedAt: c.connectedAt.toISOString(),
    received: c.received,
    rejected: c.rejected,
  };
}

/** @internal One ping round: terminates (after `onDead`) each connection that did not answer the previous ping, pings the rest. */
export function pingAll(conns: Iterable<Conn>, onDead: (conn: Conn) => void): void {
  for (const conn of conns) {
    if (!conn.alive) {
      onDead(conn);
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
}

/**
 * @internal Waits up to `timeoutMs` for the sockets to finish their close handshake, then
 * terminates the silent ones. ws keeps a socket open until the peer answers the close frame
 * (or 30 s), and the HTTP server's close() waits for every socket.
 */
export async function awaitClosed(conns: Conn[], timeoutMs: number): Promise<void> {
  const open = conns.filter((c) => c.ws.readyState !== c.ws.CLOSED);
  if (open.length === 0) return;
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
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  for (const c of open) if (c.ws.readyState !== c.ws.CLOSED) c.ws.terminate();
}

/**
 * @internal Writes pre-encoded frames to the connection's socket; a socket not open is skipped, and
 * one whose client stopped reading (over 4 MiB buffered) is terminated after `onSlow`.
 */
export function sendFrames(conn: Conn, frames: Buffer[], onSlow: (conn: Conn) => void): void {
  const ws = conn.ws as WebSocket & { _sender?: { sendFrame?: (list: Buffer[], cb?: () => void) => void } };
  if (ws.readyState !== ws.OPEN) return;
  // A client that stops reading must not grow this process's memory without bound.
  if (ws.bufferedAmount > 4 * 1024 * 1024) {
    onSlow(conn);
    ws.terminate();
    return;
  }
  // Hand-written hot path: a broadcast is framed once and the same buffers are written to every
  // socket (what engine.io does for socket.io broadcasts); ws.send would re-encode and re-frame
  // the text per connection. Safe because server frames are unmasked and we never compress.
  if (typeof ws._sender?.sendFrame === 'function') ws._sender.sendFrame(frames);
  else ws.send(Buffer.concat(frames.slice(1)), { binary: false });
}

/** ws's frame encoder: exported at run time, missing from @types/ws. */
const Sender = (
  wsModule as unknown as {
    Sender: { frame(data: Buffer, options: { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean }): Buffer[] };
  }
).Sender;

/** A text frame framed once for any number of sockets: [header, payload]. */
export function preEncode(json: string): Buffer[] {
  return Sender.frame(Buffer.from(json), { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: true }) as Buffer[];
}

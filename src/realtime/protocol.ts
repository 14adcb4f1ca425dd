/**
 * The gateway's JSON protocol. Client → server: `join`, `leave`, `react`, `ping`.
 * Server → client: `hello`, `snapshot`, `joined`, `left`, `reaction`, `reactions`, `status`,
 * `ack`, `pong`, `error`.
 */

/** A validated client message. */
export type ClientMessage =
  | { type: 'join'; room: string; id: string; name?: string; ref?: string }
  | { type: 'leave'; room: string; ref?: string }
  | { type: 'react'; room: string; reaction: string; ref?: string }
  | { type: 'ping'; ref?: string };

/** Stable codes of `error` frames. */
export type ProtocolErrorCode =
  | 'E_BAD_JSON'
  | 'E_BAD_MESSAGE'
  | 'E_UNKNOWN_TYPE'
  | 'E_RATE_LIMITED'
  | 'E_NOT_JOINED'
  | 'E_TOO_MANY_ROOMS'
  | 'E_IDENTITY'
  | 'E_REACTION_NOT_ALLOWED'
  | 'E_INTERNAL';

/** An `error` frame: `ref` echoes the client's `ref` when it sent one. */
export interface ErrorFrame {
  type: 'error';
  code: ProtocolErrorCode;
  message: string;
  ref?: string;
}

/** Result of parsing one frame. */
export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; error: ErrorFrame };

const TYPES = new Set(['join', 'leave', 'react', 'ping']);
const NAME = /^[^\u0000-\u001f{}]{1,100}$/;

function fail(code: ProtocolErrorCode, message: string, ref?: string): ParseResult {
  return { ok: false, error: ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref } };
}

/**
 * Parses and validates one text frame; hand-written rather than a schema library because the
 * schema is four small shapes and this runs on every frame.
 */
export function parseClientMessage(raw: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return fail('E_BAD_JSON', 'the frame is not valid JSON: send one JSON object per frame, e.g. {"type":"join","room":"lobby","id":"ada"}');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return fail('E_BAD_MESSAGE', 'a message must be a JSON object with a "type" field');
  const m = value as Record<string, unknown>;
  const ref = typeof m.ref === 'string' && m.ref.length <= 64 ? m.ref : undefined;
  if (m.ref !== undefined && ref === undefined) return fail('E_BAD_MESSAGE', '"ref" must be a string of at most 64 characters');
  if (typeof m.type !== 'string') return fail('E_BAD_MESSAGE', 'a message must have a string "type": join, leave, react or ping', ref);
  if (!TYPES.has(m.type)) return fail('E_UNKNOWN_TYPE', `unknown message type "${m.type.slice(0, 40)}": expected join, leave, react or ping`, ref);
  const allowed: Record<string, string[]> = {
    join: ['type', 'room', 'id', 'name', 'ref'],
    leave: ['type', 'room', 'ref'],
    react: ['type', 'room', 'reaction', 'ref'],
    ping: ['type', 'ref'],
  };
  const extra = Object.keys(m).find((k) => !allowed[m.type as string]!.includes(k));
  if (extra) return fail('E_BAD_MESSAGE', `unexpected field "${extra.slice(0, 40)}" in a ${m.type} message`, ref);
  if (m.type === 'ping') return { ok: true, message: { type: 'ping', ref } };
  if (typeof m.room !== 'string' || !NAME.test(m.room)) return fail('E_BAD_MESSAGE', '"room" must be 1-100 characters, no control characters or braces', ref);
  const room = m.room;
  if (m.type === 'join') {
    if (typeof m.id !== 'string' || !NAME.test(m.id)) return fail('E_BAD_MESSAGE', '"id" must be 1-100 characters, no control characters or braces', ref);
    if (m.name !== undefined && (typeof m.name !== 'string' || !NAME.test(m.name)))
      return fail('E_BAD_MESSAGE', '"name" must be 1-100 characters without control characters', ref);
    return { ok: true, message: { type: 'join', room, id: m.id, name: m.name as string | undefined, ref } };
  }
  if (m.type === 'leave') return { ok: true, message: { type: 'leave', room, ref } };
  if (typeof m.reaction !== 'string' || m.reaction.length === 0 || m.reaction.length > 32)
    return fail('E_BAD_MESSAGE', '"reaction" must be 1-32 characters', ref);
  return { ok: true, message: { type: 'react', room, reaction: m.reaction, ref } };
}

/** A token bucket: `perSecond` refill, `burst` capacity. */
export class TokenBucket {
  #tokens: number;
  #last: number;
  readonly #perSecond: number;
  readonly #burst: number;

  constructor(perSecond: number, burst: number, now = performance.now()) {
    this.#perSecond = perSecond;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  /** Tokens left after the last `take` (fractional). */
  get tokens(): number {
    return this.#tokens;
  }

  /** Takes one token; false when empty. */
  take(now = performance.now()): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#perSecond);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

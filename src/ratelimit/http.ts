import { assertOptions } from '../options.js';
import { clientAddress, compileTrustProxy, type TrustFn, type TrustProxy } from './proxy.js';
import type { RateLimiter } from './rate-limiter.js';
import type { RateLimitResult } from './types.js';

/** What the framework-neutral core needs from a request. */
export interface HttpRequestInfo {
  /** The client address as the framework computed it (its own trust-proxy setting applied); used when `trustProxy` is not set. */
  ip?: string;
  /** The socket's peer address; used with `trustProxy`. */
  remoteAddress?: string;
  /** The `X-Forwarded-For` header; read only when `trustProxy` trusts the peer. */
  forwardedFor?: string | string[];
  /** Route pattern (e.g. `/api/items/:id`), or the path when no pattern is known. */
  route?: string;
  method?: string;
  /** The authenticated user, when there is one. */
  user?: string;
}

/** One part of a request's limiter key. */
export type HttpKeyPart = 'ip' | 'user' | 'route';

/** Options of the HTTP helpers; `Req` is the framework's request type. */
export interface HttpRateLimitOptions<Req = unknown> {
  /** Which parts make the key; default `['ip']`. A missing user falls back to the IP (`anon:<ip>`). */
  keyBy?: HttpKeyPart[];
  /** Full control over the key instead of `keyBy`. */
  key?: (req: Req, info: HttpRequestInfo) => string;
  /** The authenticated user of a request, for `keyBy: ['user']`. */
  user?: (req: Req) => string | undefined;
  /** Units a request costs; default 1. */
  cost?: number | ((req: Req) => number);
  /** Send `RateLimit-*` headers on allowed requests too; default true (429s always get them). */
  headers?: boolean;
  /** Message of the 429 body; default `Too many requests, retry in <n> s`. */
  message?: string;
  /**
   * Which proxies may name the client in `X-Forwarded-For` (see `TrustProxy`): `1` behind one
   * proxy (Fly, Railway, Render), addresses / CIDRs, `true` for all. When set, the key uses the
   * client found from the socket's peer back through that header; `false` keys by the peer.
   * Unset: the framework's `request.ip` (its own trustProxy setting applies).
   */
  trustProxy?: TrustProxy;
}

const HTTP_OPTION_KEYS = ['keyBy', 'key', 'user', 'cost', 'headers', 'message', 'trustProxy'] as const;

/** The JSON body of a 429. */
export interface RateLimitBody {
  statusCode: 429;
  error: 'Too Many Requests';
  message: string;
  /** Ms until a retry can be allowed. */
  retryAfterMs: number;
}

/** The core's answer: the status, headers and (for 429) body an adapter sends. */
export interface HttpRateLimitOutcome {
  allowed: boolean;
  status: 200 | 429;
  headers: Record<string, string>;
  body: RateLimitBody | undefined;
  result: RateLimitResult;
}

/** `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (s) and, when refused, `Retry-After` (s). */
export function rateLimitHeaders(result: RateLimitResult): Record<string, string> {
  const headers: Record<string, string> = {
    'RateLimit-Limit': String(result.limit),
    'RateLimit-Remaining': String(Math.max(0, result.remaining)),
    'RateLimit-Reset': String(Math.ceil(result.resetMs / 1000)),
  };
  // Retry-After is whole seconds; never 0 for a refusal, or clients would retry at once.
  if (!result.allowed) headers['Retry-After'] = String(Math.max(1, Math.ceil(result.retryAfterMs / 1000)));
  return headers;
}

/**
 * The framework-neutral core: builds the key, consumes, and returns the status, headers and
 * body to send. The Fastify and Express adapters are thin wrappers around it.
 */
export function httpRateLimit<Req = unknown>(
  limiter: RateLimiter,
  options: HttpRateLimitOptions<Req> = {},
): (req: Req, info: HttpRequestInfo) => Promise<HttpRateLimitOutcome> {
  assertOptions(options, HTTP_OPTION_KEYS, 'rate-limit middleware options');
  const keyBy = options.keyBy ?? ['ip'];
  const sendHeaders = options.headers ?? true;
  const trust: TrustFn | undefined = options.trustProxy === undefined ? undefined : compileTrustProxy(options.trustProxy);
  return async (req, info) => {
    if (trust) info = { ...info, ip: clientAddress(info.remoteAddress ?? info.ip, info.forwardedFor, trust) };
    if (options.user && info.user === undefined) info = { ...info, user: options.user(req) };
    const key = options.key ? options.key(req, info) : keyBy.map((part) => keyPart(part, info)).join('|');
    const cost = typeof options.cost === 'function' ? options.cost(req) : (options.cost ?? 1);
    const result = await limiter.consume(key, cost);
    const headers = result.allowed && !sendHeaders ? {} : rateLimitHeaders(result);
    if (result.allowed) return { allowed: true, status: 200, headers, body: undefined, result };
    const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
    return {
      allowed: false,
      status: 429,
      headers,
      body: {
        statusCode: 429,
        error: 'Too Many Requests',
        message: options.message ?? `Too many requests, retry in ${seconds} s`,
        retryAfterMs: result.retryAfterMs,
      },
      result,
    };
  };
}

function keyPart(part: HttpKeyPart, info: HttpRequestInfo): string {
  switch (part) {
    case 'ip':
      return `ip:${info.ip || 'unknown'}`;
    case 'user':
      return info.user ? `user:${info.user}` : `anon:${info.ip || 'unknown'}`;
    case 'route':
      return `route:${info.method ?? ''} ${info.route ?? ''}`;
  }
}

/** The parts of a Fastify request the adapter uses (no type dependency on fastify). */
export interface FastifyRequestLike {
  ip: string;
  method: string;
  url: string;
  routeOptions?: { url?: string };
  socket?: { remoteAddress?: string };
  headers?: Record<string, string | string[] | undefined>;
}
/** The parts of a Fastify reply the adapter uses. */
export interface FastifyReplyLike {
  header(name: string, value: string): unknown;
  code(status: number): FastifyReplyLike;
  send(body: unknown): unknown;
}

/**
 * A Fastify `preHandler` (or `onRequest`) hook: sets the headers, and answers 429 with a JSON
 * body when refused. Use per route (`{ preHandler: fastifyRateLimit(limiter) }`) or with `addHook`.
 */
export function fastifyRateLimit<Req extends FastifyRequestLike = FastifyRequestLike>(
  limiter: RateLimiter,
  options: HttpRateLimitOptions<Req> = {},
): (request: Req, reply: FastifyReplyLike) => Promise<void> {
  const decide = httpRateLimit<Req>(limiter, options);
  return async (request, reply) => {
    const outcome = await decide(request, {
      ip: request.ip,
      remoteAddress: request.socket?.remoteAddress,
      forwardedFor: request.headers?.['x-forwarded-for'],
      method: request.method,
      route: request.routeOptions?.url ?? request.url.split('?')[0],
    });
    for (const [name, value] of Object.entries(outcome.headers)) reply.header(name, value);
    if (!outcome.allowed) await reply.code(429).send(outcome.body);
  };
}

/** The parts of an Express request the adapter uses (no type dependency on express). */
export interface ExpressRequestLike {
  ip?: string;
  method: string;
  path: string;
  baseUrl?: string;
  route?: { path?: unknown };
  socket?: { remoteAddress?: string };
  headers?: Record<string, string | string[] | undefined>;
}
/** The parts of an Express response the adapter uses. */
export interface ExpressResponseLike {
  setHeader(name: string, value: string): unknown;
  status(code: number): ExpressResponseLike;
  json(body: unknown): unknown;
}

/**
 * An Express middleware: sets the headers, and answers 429 with a JSON body when refused;
 * errors (e.g. an empty key) go to `next(err)`.
 */
export function expressRateLimit<Req extends ExpressRequestLike = ExpressRequestLike>(
  limiter: RateLimiter,
  options: HttpRateLimitOptions<Req> = {},
): (req: Req, res: ExpressResponseLike, next: (err?: unknown) => void) => void {
  const decide = httpRateLimit<Req>(limiter, options);
  return (req, res, next) => {
    const route = `${req.baseUrl ?? ''}${typeof req.route?.path === 'string' ? req.route.path : req.path}`;
    decide(req, { ip: req.ip, remoteAddress: req.socket?.remoteAddress, forwardedFor: req.headers?.['x-forwarded-for'], method: req.method, route }).then(
      (outcome) => {
        for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value);
        if (outcome.allowed) next();
        else res.status(429).json(outcome.body);
      },
      next,
    );
  };
}

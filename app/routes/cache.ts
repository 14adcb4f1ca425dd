import { isWellFormed, toMs } from 'redkit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext, RouteModule } from '../context.js';
import { moderateLimiter } from './ratelimit.js';

/** What the stand-in moderation answers (the shape of a typical moderation API result). */
export interface ModerationResult {
  flagged: boolean;
  categories: string[];
  score: number;
}

/** Longest text accepted by `POST /api/moderate`, in characters. */
export const MAX_MODERATE_TEXT = 10_000;

const BLOCKLIST: Record<string, string[]> = {
  harassment: ['idiot', 'stupid', 'loser'],
  violence: ['kill', 'attack', 'destroy'],
  spam: ['free money', 'click here', 'buy now'],
};

/**
 * A deliberately slow stand-in for an AI moderation API (seed 002): `delayMs` of latency, then a
 * keyword check. The point is the cache in front of it, not the moderation.
 */
export async function moderateText(text: string, delayMs: number): Promise<ModerationResult> {
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  const lower = text.toLowerCase();
  const categories = Object.entries(BLOCKLIST)
    .filter(([, words]) => words.some((w) => lower.includes(w)))
    .map(([category]) => category);
  return { flagged: categories.length > 0, categories, score: Math.min(1, categories.length / 2) };
}

/**
 * Pre-handlers of `POST /api/moderate`: the per-IP rate limit from the rate-limit route module
 * (`RATE_LIMIT_MODERATE`), kept here so that this route stays about caching.
 */
export function moderateGuards(ctx: AppContext): Array<(request: FastifyRequest, reply: FastifyReply) => Promise<void>> {
  return [moderateLimiter(ctx)];
}

/** `POST /api/moderate { text }` → `{ result, cached }` through a 24 h cache keyed by SHA-256; `GET /api/cache/stats` (this instance and the whole deployment). */
export const cacheRoutes: RouteModule = (app, ctx) => {
  const { kit, settings } = ctx;
  const delayMs = toMs(settings.env.MODERATION_DELAY_MS ?? 300, 'MODERATION_DELAY_MS');
  // Grace: an hour past the 24 h TTL the old verdict is still served while a refresh runs, and
  // if the moderation API is down.
  const moderation = kit.cache.namespace<ModerationResult>('moderation', { ttl: '24h', grace: '1h', jitter: 0.1 });

  app.post('/api/moderate', { preHandler: moderateGuards(ctx) }, async (request, reply) => {
    const body = request.body as { text?: unknown } | null | undefined;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return reply.code(400).send({ error: 'E_INVALID_BODY', message: 'send a JSON object: { "text": "…" } with Content-Type: application/json' });
    }
    const text = body.text;
    if (typeof text !== 'string') {
      return reply.code(400).send({
        error: 'E_INVALID_BODY',
        message: `"text" must be a string (got ${text === undefined ? 'nothing' : Array.isArray(text) ? 'an array' : typeof text})`,
      });
    }
    if (text.trim().length === 0) {
      return reply.code(400).send({ error: 'E_INVALID_BODY', message: '"text" must not be empty' });
    }
    if (!isWellFormed(text)) {
      return reply
        .code(400)
        .send({ error: 'E_INVALID_BODY', message: '"text" holds a lone UTF-16 surrogate (an unpaired \\uD800–\\uDFFF escape): send valid Unicode' });
    }
    if (text.length > MAX_MODERATE_TEXT) {
      return reply.code(413).send({ error: 'E_TEXT_TOO_LONG', message: `"text" must be at most ${MAX_MODERATE_TEXT} characters (got ${text.length})` });
    }
    // `cached` is false when this request ran the moderation itself; a request that joined
    // another request's run, or found the verdict stored, answers true.
    let ran = false;
    const result = await moderation.getOrSet(moderation.hashKey(text), () => {
      ran = true;
      return moderateText(text, delayMs);
    });
    return { result, cached: !ran };
  });

  // `namespaces`: this instance since it started; `deployment`: every instance (null while Redis is unreachable).
  app.get('/api/cache/stats', async () => ({
    mode: kit.mode,
    namespaces: kit.cache.stats(),
    deployment: await kit.cache.deploymentStats().catch(() => null),
  }));
};

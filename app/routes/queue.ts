import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ComfyUIAdapter, startComfyUIStub, type ComfyUIInput, type JobContext, type JobHandler, type JobRunner, type Redkit } from 'redkit';
import type { RouteModule } from '../context.js';

/** The demo queues of seed 002 and what their jobs do (a short sleep standing in for real work). */
export const demoProcessors: Record<string, JobHandler<Record<string, unknown>, unknown>> = {
  video: async (job: JobContext<Record<string, unknown>>) => {
    // data.stepMs (0–2000, default 50) makes a job long enough to watch a deploy drain it.
    const stepMs = Math.min(2000, Math.max(0, Number(job.data.stepMs ?? 50) || 0));
    for (let step = 1; step <= 4; step++) {
      await new Promise((r) => setTimeout(r, stepMs));
      await job.progress(step * 25);
    }
    return { enhanced: true, source: job.data.url ?? null };
  },
  analytics: async (job: JobContext<Record<string, unknown>>) => ({ event: job.data.event ?? 'unknown', processedAt: new Date().toISOString() }),
};

/** Creates the demo queues; the API runs their jobs itself when Redis is down (seed 002). */
export function demoQueues(kit: Redkit) {
  return Object.fromEntries(Object.entries(demoProcessors).map(([name, handler]) => [name, kit.queue(name, { inlineHandler: handler, inlineConcurrency: 2, defaultJobOptions: { attempts: 3, backoff: { type: 'exponential', delayMs: 500 } } })]));
}

/** Refuses (401) unless `Authorization: Bearer <ADMIN_TOKEN>`; compares in constant time. */
export function authorized(request: FastifyRequest, token: string): boolean {
  const header = request.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Maps redkit's typed errors to HTTP statuses. */
function fail(reply: FastifyReply, err: unknown) {
  const code = (err as { code?: string })?.code;
  const status = code === 'E_INVALID_ARGUMENT' || code === 'E_JOB_DATA' || code === 'E_JOB_EXISTS' ? 400
    : code === 'E_JOB_NOT_FOUND' ? 404
      : code === 'E_QUEUE_UNAVAILABLE' || code === 'E_REDIS_UNAVAILABLE' || code === 'E_EXTERNAL_JOB' ? 503 : 500;
  if (status === 500) throw err;
  return reply.code(status).send({ error: code, message: (err as Error).message });
}

/**
 * Queues and job state: `GET /api/admin/queue/stats` (bearer ADMIN_TOKEN; 404 when unset),
 * `POST /api/queue/:name/jobs` for the demo queues, and ComfyUI jobs at `POST /api/jobs/comfyui`
 * and `GET /api/jobs/:id` (COMFYUI_URL, or a built-in stub when unset).
 */
export const queueRoutes: RouteModule = async (app, { kit, settings }) => {
  const queues = demoQueues(kit);

  app.get('/api/admin/queue/stats', async (request, reply) => {
    if (!settings.adminToken) return reply.code(404).send({ error: 'E_DISABLED', message: 'admin routes are disabled: set ADMIN_TOKEN to enable them' });
    if (!authorized(request, settings.adminToken)) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'E_UNAUTHORIZED', message: 'send Authorization: Bearer <ADMIN_TOKEN>' });
    return { mode: kit.mode, queues: await kit.queues.stats() };
  });

  app.post<{ Params: { name: string }; Body: { name?: string; data?: unknown; opts?: Record<string, unknown> } }>('/api/queue/:name/jobs', async (request, reply) => {
    const queue = queues[request.params.name];
    if (!queue) return reply.code(404).send({ error: 'E_NO_QUEUE', message: `no queue "${request.params.name}": use one of ${Object.keys(queues).join(', ')}` });
    try {
      const body = request.body ?? {};
      const job = await queue.add(body.name ?? 'job', body.data ?? {}, body.opts);
      return reply.code(202).send({ id: job.id, via: job.via });
    } catch (err) {
      return fail(reply, err);
    }
  });

  let runner: JobRunner<ComfyUIInput> | null = null;
  let stop: (() => Promise<void>) | null = null;
  const comfy = async () => {
    if (!runner) {
      let baseUrl = settings.env.COMFYUI_URL;
      if (!baseUrl) {
        const stub = await startComfyUIStub({ runMs: 2000, concurrency: 2 });
        stop = stub.close;
        baseUrl = stub.url;
        app.log.info({ url: stub.url }, 'COMFYUI_URL not set: ComfyUI jobs go to a built-in stub');
      }
      runner = kit.jobs.runner({ kind: 'comfyui', adapter: new ComfyUIAdapter({ baseUrl }), pollIntervalMs: 500 });
      // A restarted server finishes tracking the jobs it (or a crashed peer) left unfinished.
      await runner.recover().catch((err) => app.log.warn({ err: err.message }, 'job recovery postponed: Redis unavailable'));
    }
    return runner;
  };
  if (settings.env.COMFYUI_URL) await comfy();
  app.addHook('onClose', async () => { await runner?.close(); await stop?.(); });

  app.post<{ Body: { prompt?: Record<string, unknown> } }>('/api/jobs/comfyui', async (request, reply) => {
    try {
      const record = await (await comfy()).start({ prompt: request.body?.prompt ?? { '3': { class_type: 'KSampler', inputs: {} }, '9': { class_type: 'SaveImage', inputs: {} } } });
      return reply.code(202).send(record);
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.get<{ Params: { id: string } }>('/api/jobs/:id', async (request, reply) => {
    try {
      const record = await kit.jobs.store.get(request.params.id);
      if (!record) return reply.code(404).send({ error: 'E_JOB_NOT_FOUND', message: `job "${request.params.id}" does not exist (or expired)` });
      return record;
    } catch (err) {
      return fail(reply, err);
    }
  });
};

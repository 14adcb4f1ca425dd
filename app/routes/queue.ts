import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  ComfyUIAdapter,
  startComfyUIStub,
  type ComfyUIInput,
  type JobContext,
  type JobHandler,
  type JobRunner,
  type Queue,
  type QueueCounts,
  type Redkit,
} from 'redkit';
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
  return Object.fromEntries(
    Object.entries(demoProcessors).map(([name, handler]) => [
      name,
      kit.queue(name, { inlineHandler: handler, inlineConcurrency: 2, defaultJobOptions: { attempts: 3, backoff: { type: 'exponential', delayMs: 500 } } }),
    ]),
  );
}

/**
 * True when the request carries the admin token: `Authorization: Bearer <ADMIN_TOKEN>`, or
 * (for Bull Board, opened in a browser) HTTP Basic with the token as password. Constant time.
 */
export function authorized(request: FastifyRequest, token: string, basic = false): boolean {
  const header = request.headers.authorization ?? '';
  let given = header.startsWith('Bearer ') ? header.slice(7) : '';
  if (basic && header.startsWith('Basic ')) given = Buffer.from(header.slice(6), 'base64').toString().split(':').slice(1).join(':');
  const a = Buffer.from(given);
  const expected = Buffer.from(token);
  return a.length === expected.length && timingSafeEqual(a, expected);
}

/** Where the reference server mounts Bull Board (ADMIN_TOKEN set, Redis mode, packages installed). */
export const BULL_BOARD_PATH = '/admin/queues';

/**
 * Mounts Bull Board on the demo queues, behind the admin token. Its packages are optional
 * (`npm i @bull-board/api @bull-board/fastify`): imported dynamically, and skipped with a log
 * line when absent. Redis mode only: in standalone there is no BullMQ queue to show.
 */
async function mountBullBoard(app: Parameters<RouteModule>[0], queues: Record<string, Queue>, token: string): Promise<boolean> {
  const handles = Object.values(queues).map((q) => q.bullmq);
  if (handles.some((h) => h === null)) {
    app.log.info('Bull Board not mounted: standalone mode has no BullMQ queues');
    return false;
  }
  // Specifiers in variables: the packages are optional, so tsc must not resolve them.
  const specs = ['@bull-board/api', '@bull-board/api/bullMQAdapter', '@bull-board/fastify'];
  let mods: any[];
  try {
    mods = await Promise.all(specs.map((spec) => import(spec)));
  } catch {
    app.log.info(`Bull Board not mounted: npm i ${specs[0]} ${specs[2]} to enable ${BULL_BOARD_PATH}`);
    return false;
  }
  const [{ createBullBoard }, { BullMQAdapter }, { FastifyAdapter }] = mods;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({ queues: handles.map((h) => new BullMQAdapter(h!.queue)), serverAdapter });
  await app.register(async (scope) => {
    // Every route of the board (pages, assets, its JSON API) is behind the token.
    scope.addHook('onRequest', async (request, reply) => {
      if (!authorized(request, token, true))
        return reply
          .code(401)
          .header('www-authenticate', 'Basic realm="redkit admin"')
          .send({ error: 'E_UNAUTHORIZED', message: 'send the ADMIN_TOKEN (Bearer, or Basic with it as password)' });
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
  });
  return true;
}

/** The note the live page shows next to a queue: jobs waiting and nobody to run them. */
export function consumerWarning(counts: QueueCounts | undefined): string | undefined {
  if (counts?.workers !== 0 || counts.waiting === 0) return undefined;
  return counts.paused ? `waiting ${counts.waiting} — queue paused` : `waiting ${counts.waiting} — no worker is consuming`;
}

/** Maps redkit's typed errors to HTTP statuses. */
function fail(reply: FastifyReply, err: unknown) {
  const code = (err as { code?: string })?.code;
  const status =
    code === 'E_INVALID_ARGUMENT' || code === 'E_JOB_DATA' || code === 'E_JOB_EXISTS'
      ? 400
      : code === 'E_JOB_NOT_FOUND'
        ? 404
        : code === 'E_QUEUE_UNAVAILABLE' || code === 'E_REDIS_UNAVAILABLE' || code === 'E_EXTERNAL_JOB'
          ? 503
          : 500;
  if (status === 500) throw err;
  return reply.code(status).send({ error: code, message: (err as Error).message });
}

/**
 * Queues and job state: `GET /api/admin/queue/stats` (bearer ADMIN_TOKEN; 404 when unset; a
 * `warning` per queue with jobs waiting and no live worker), Bull Board at BULL_BOARD_PATH,
 * `POST /api/queue/:name/jobs` for the demo queues, and ComfyUI jobs at `POST /api/jobs/comfyui`
 * and `GET /api/jobs/:id` (COMFYUI_URL, or a built-in stub when unset).
 */
export const queueRoutes: RouteModule = async (app, { kit, settings }) => {
  const queues = demoQueues(kit);

  app.get('/api/admin/queue/stats', async (request, reply) => {
    if (!settings.adminToken) return reply.code(404).send({ error: 'E_DISABLED', message: 'admin routes are disabled: set ADMIN_TOKEN to enable them' });
    if (!authorized(request, settings.adminToken))
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'E_UNAUTHORIZED', message: 'send Authorization: Bearer <ADMIN_TOKEN>' });
    const stats = await kit.queues.stats();
    const queues = Object.fromEntries(Object.entries(stats).map(([name, s]) => [name, { ...s, warning: consumerWarning(s.counts) }]));
    return { mode: kit.mode, queues };
  });

  if (settings.adminToken) await mountBullBoard(app, queues, settings.adminToken);

  app.post<{ Params: { name: string }; Body: { name?: string; data?: unknown; opts?: Record<string, unknown> } }>(
    '/api/queue/:name/jobs',
    async (request, reply) => {
      const queue = queues[request.params.name];
      if (!queue)
        return reply.code(404).send({ error: 'E_NO_QUEUE', message: `no queue "${request.params.name}": use one of ${Object.keys(queues).join(', ')}` });
      try {
        const body = request.body ?? {};
        const job = await queue.add(body.name ?? 'job', body.data ?? {}, body.opts);
        return reply.code(202).send({ id: job.id, via: job.via });
      } catch (err) {
        return fail(reply, err);
      }
    },
  );

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
  app.addHook('onClose', async () => {
    await runner?.close();
    await stop?.();
  });

  app.post<{ Body: { prompt?: Record<string, unknown> } }>('/api/jobs/comfyui', async (request, reply) => {
    try {
      const record = await (await comfy()).start({
        prompt: request.body?.prompt ?? { '3': { class_type: 'KSampler', inputs: {} }, '9': { class_type: 'SaveImage', inputs: {} } },
      });
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

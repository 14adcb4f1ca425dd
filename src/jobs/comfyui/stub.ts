import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';

/** Options of the ComfyUI stub. */
export interface ComfyUIStubOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** How long each prompt "renders", in ms. Default 500. */
  runMs?: number;
  /** Prompts rendered at once (ComfyUI itself runs one). Default 1. */
  concurrency?: number;
  /** Accept `POST /prompt` one at a time, each after this many ms (a busy server). Default 0. */
  acceptDelayMs?: number;
}

/** A running stub. */
export interface ComfyUIStub {
  readonly url: string;
  readonly port: number;
  /** How many times each prompt_id was submitted (a real ComfyUI would render duplicates twice). */
  submissions(): Map<string, number>;
  close(): Promise<void>;
}

interface StubPrompt {
  id: string;
  number: number;
  prompt: Record<string, unknown>;
  state: 'pending' | 'running' | 'success' | 'error' | 'interrupted';
  timer?: NodeJS.Timeout;
}

/**
 * A small ComfyUI-compatible HTTP server for the demo and the tests: `POST /prompt`,
 * `GET /queue`, `GET /history[/{id}]`, `POST /queue {delete|clear}`, `POST /interrupt`, with
 * the same JSON shapes. A node with `class_type: "Fail"` makes a prompt end in error. Extra:
 * `GET /stub/submissions` returns how often each prompt_id was posted.
 */
export async function startComfyUIStub(opts: ComfyUIStubOptions = {}): Promise<ComfyUIStub> {
  const runMs = opts.runMs ?? 500;
  const concurrency = opts.concurrency ?? 1;
  const prompts = new Map<string, StubPrompt>();
  const order: StubPrompt[] = [];
  const submissions = new Map<string, number>();
  let number = 0;
  let closed = false;
  let accepting: Promise<unknown> = Promise.resolve();
  const acceptDelayMs = opts.acceptDelayMs ?? 0;

  const pump = () => {
    if (closed) return;
    let running = order.filter((p) => p.state === 'running').length;
    for (const p of order) {
      if (running >= concurrency) break;
      if (p.state !== 'pending') continue;
      p.state = 'running';
      running++;
      p.timer = setTimeout(() => {
        p.state = Object.values(p.prompt).some((n) => (n as { class_type?: string })?.class_type === 'Fail') ? 'error' : 'success';
        pump();
      }, runMs);
    }
  };

  const history = (p: StubPrompt) => ({
    prompt: [p.number, p.id, p.prompt, {}, Object.keys(p.prompt)],
    outputs: p.state === 'success' ? { '9': { images: [{ filename: `ComfyUI_${p.id.slice(0, 8)}.png`, subfolder: '', type: 'output' }] } } : {},
    status: {
      status_str: p.state === 'success' ? 'success' : 'error',
      completed: p.state === 'success',
      messages:
        p.state === 'error'
          ? [['execution_error', { prompt_id: p.id, exception_message: 'Fail node raised an error' }]]
          : p.state === 'interrupted'
            ? [['execution_interrupted', { prompt_id: p.id }]]
            : [['execution_success', { prompt_id: p.id }]],
    },
  });
  const finished = (p: StubPrompt) => p.state === 'success' || p.state === 'error' || p.state === 'interrupted';

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'http://stub');
    let body: Record<string, unknown> = {};
    if (req.method === 'POST') {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      try {
        body = raw ? JSON.parse(raw) : {};
      } catch {
        return send(400, { error: { type: 'invalid_json', message: 'invalid JSON body' }, node_errors: {} });
      }
    }
    if (req.method === 'POST' && url.pathname === '/prompt') {
      const prompt = body.prompt;
      if (!prompt || typeof prompt !== 'object' || Array.isArray(prompt) || Object.keys(prompt).length === 0) {
        return send(400, { error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} }, node_errors: {} });
      }
      if (acceptDelayMs > 0) {
        const turn = accepting.then(() => new Promise((r) => setTimeout(r, acceptDelayMs)));
        accepting = turn;
        await turn;
        // Like an HTTP server whose handler is cancelled when the client goes away: a prompt
        // whose client died before it was accepted is not queued.
        if (res.destroyed || req.socket.destroyed || closed) return;
      }
      const id = typeof body.prompt_id === 'string' ? body.prompt_id : randomUUID();
      submissions.set(id, (submissions.get(id) ?? 0) + 1);
      if (!prompts.has(id)) {
        const p: StubPrompt = { id, number: number++, prompt: prompt as Record<string, unknown>, state: 'pending' };
        prompts.set(id, p);
        order.push(p);
        pump();
      }
      return send(200, { prompt_id: id, number: prompts.get(id)!.number, node_errors: {} });
    }
    if (req.method === 'GET' && url.pathname === '/queue') {
      const item = (p: StubPrompt) => [p.number, p.id, p.prompt, {}, Object.keys(p.prompt)];
      return send(200, {
        queue_running: order.filter((p) => p.state === 'running').map(item),
        queue_pending: order.filter((p) => p.state === 'pending').map(item),
      });
    }
    if (req.method === 'GET' && url.pathname.startsWith('/history')) {
      const id = decodeURIComponent(url.pathname.slice('/history/'.length));
      const out: Record<string, unknown> = {};
      for (const p of order) if (finished(p) && (!id || p.id === id)) out[p.id] = history(p);
      return send(200, out);
    }
    if (req.method === 'POST' && url.pathname === '/queue') {
      const ids = Array.isArray(body.delete) ? body.delete : body.clear ? order.filter((p) => p.state === 'pending').map((p) => p.id) : [];
      for (const id of ids) {
        const p = prompts.get(String(id));
        if (p?.state === 'pending') {
          prompts.delete(p.id);
          order.splice(order.indexOf(p), 1);
        }
      }
      return send(200, {});
    }
    if (req.method === 'POST' && url.pathname === '/interrupt') {
      for (const p of order) {
        if (p.state === 'running' && (!body.prompt_id || body.prompt_id === p.id)) {
          clearTimeout(p.timer);
          p.state = 'interrupted';
        }
      }
      pump();
      return send(200, {});
    }
    if (req.method === 'GET' && url.pathname === '/stub/submissions') return send(200, Object.fromEntries(submissions));
    return send(404, { error: `no route ${req.method} ${url.pathname}` });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    submissions: () => new Map(submissions),
    close: async () => {
      closed = true;
      for (const p of order) clearTimeout(p.timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
